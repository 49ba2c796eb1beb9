"""The sdist and the wheel: what they hold, what twine says of them, and a site run from the installed wheel.

The wheel is compared with this source tree, not with a list written here: a template, static
file, migration or translation added later is checked without touching this file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import django_huyi_sms

from .wheel_helpers import (
    PACKAGE,
    REPO,
    Distributions,
    FreshVenv,
    built_distributions,
    fresh_venv_with_wheel,
    git_files,
    tree_package_files,
)

pytestmark = pytest.mark.packaging

# Django's feature releases around the supported range: the classifiers must name exactly those the
# dependency allows.
DJANGO_RELEASES = ("4.2", "5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0")


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    return built_distributions(tmp_path_factory)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    return fresh_venv_with_wheel(tmp_path_factory)


def _metadata(dists: Distributions) -> tuple[str, list[tuple[str, str]]]:
    with zipfile.ZipFile(dists.wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return name, list(message.items())


def _sdist_names(dists: Distributions) -> set[str]:
    with tarfile.open(dists.sdist) as archive:
        members = [member for member in archive.getmembers() if member.isfile()]
    # Every member is under "django_huyi_sms-0.1.0/".
    return {member.name.split("/", 1)[1] for member in members}


def test_the_wheel_holds_every_file_of_the_package_and_nothing_else(dists: Distributions) -> None:
    tree = tree_package_files()
    # The kinds of file a Django app needs at run time, each present in the tree, so that the
    # comparison below cannot pass on an empty tree.
    kinds = {
        "templates": [name for name in tree if name.startswith(f"{PACKAGE}/templates/")],
        "static files": [name for name in tree if name.startswith(f"{PACKAGE}/static/")],
        "migrations": [name for name in tree if name.startswith(f"{PACKAGE}/migrations/0")],
        "compiled translations": [name for name in tree if name.endswith(".mo")],
        "translation sources": [name for name in tree if name.endswith(".po")],
        "py.typed": [name for name in tree if name == f"{PACKAGE}/py.typed"],
    }
    assert all(kinds.values()), {kind: names for kind, names in kinds.items() if not names}

    in_wheel = dists.wheel_names()
    missing = sorted(tree - in_wheel)
    assert not missing, f"the wheel lacks {missing}"
    package_files = {name for name in in_wheel if not name.split("/")[0].endswith(".dist-info")}
    assert package_files == tree, f"the wheel has files the tree has not: {sorted(package_files - tree)}"


def test_the_wheel_is_version_0_1_0_for_the_django_releases_it_accepts(dists: Distributions) -> None:
    assert django_huyi_sms.__version__ == "0.1.0"
    assert dists.wheel.name == f"{PACKAGE}-0.1.0-py3-none-any.whl"
    _, fields = _metadata(dists)
    values = dict(fields)
    assert values["Version"] == django_huyi_sms.__version__
    assert values["License-Expression"] == "MIT"

    (django,) = [Requirement(value) for name, value in fields if name == "Requires-Dist" and value.startswith("Django")]
    accepted = {release for release in DJANGO_RELEASES if django.specifier.contains(Version(release))}
    classified = {value.rsplit(" :: ", 1)[1] for name, value in fields if name == "Classifier" and value.startswith("Framework :: Django :: ")}
    assert accepted == {"5.2", "6.0", "6.1"}
    assert classified == accepted

    python = Version(".".join(map(str, sys.version_info[:2])))
    assert python in Requirement(f"python{values['Requires-Python']}").specifier
    assert f"Programming Language :: Python :: {python}" in {value for name, value in fields if name == "Classifier"}


def test_twine_accepts_both_distributions(dists: Distributions) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_sdist_carries_what_a_rebuild_and_the_tests_need(dists: Distributions) -> None:
    names = _sdist_names(dists)
    for needed in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.cfg", "MANIFEST.in"):
        assert needed in names
    # The whole package, the tests with their settings and helpers, the example project and the docs.
    tracked = git_files()
    if tracked is None:
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    wanted = {name for name in tracked if name.startswith((f"{PACKAGE}/", "tests/", "example_project/", "docs/"))}
    missing = sorted(wanted - names)
    assert not missing, f"the sdist lacks {missing}"
    # And none of what is about this repository rather than the package.
    assert not [name for name in names if name.startswith(("benchmarks/", ".ci/", "tools/"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_example_project_runs_from_the_installed_wheel(venv: FreshVenv, tmp_path: Path) -> None:
    site = tmp_path / "example_project"
    shutil.copytree(REPO / "example_project", site, ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__"))

    # The wheel, not this checkout (installed here in editable mode), is what the site imports.
    imported = venv.imported_from(site)
    assert imported.is_relative_to(venv.root.resolve()), imported

    venv.run(venv.python, "manage.py", "check", "--fail-level", "ERROR", cwd=site)
    migrated = venv.run(venv.python, "manage.py", "migrate", "--noinput", cwd=site)
    assert "huyi_sms" in migrated.stdout
    assert (site / "db.sqlite3").is_file()
    unapplied = venv.run(venv.python, "manage.py", "migrate", "--check", cwd=site)
    assert unapplied.returncode == 0

    # Its templates, static files and compiled translations came with it.
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'example.settings'); django.setup()\n"
        "from django.contrib.staticfiles import finders\n"
        "from django.template.loader import get_template\n"
        "from django.utils import translation\n"
        "print(get_template('django_huyi_sms/login.html').origin.name)\n"
        "print(finders.find('django_huyi_sms/countdown.js'))\n"
        "translation.activate('zh-hans')\n"
        "print(translation.gettext('mobile'))\n"
    )
    template, static, translated = venv.run(venv.python, "-c", script, cwd=site).stdout.split()
    assert Path(template).resolve().is_relative_to(venv.root.resolve())
    assert Path(static).resolve().is_relative_to(venv.root.resolve())
    assert translated == "手机号"
