"""Build this repository's sdist and wheel once per test session, and install the wheel in a fresh virtualenv.

Shared by ``test_packaging.py`` and ``test_quickstart_docs.py``. Everything stays offline:

* the build runs without an isolated environment (``python -m build --no-isolation``), with the
  setuptools the dev extra put in this virtualenv. Like a release build, it makes the sdist first
  and the wheel from the unpacked sdist, so a wheel that lacks a file may be an sdist that lacks it;
* the fresh virtualenv gets the wheel with ``--no-deps``, and reaches the dependencies already
  installed here (Django, DRF, …) through a ``.pth`` file naming this virtualenv's site-packages.
  That directory also holds this package in editable mode, but a directory named by a ``.pth``
  file is only put on ``sys.path`` (its own ``.pth`` files, the editable finder's included, are not
  run), and after the fresh virtualenv's own site-packages: the wheel is what gets imported, and
  :meth:`FreshVenv.imported_from` lets a test prove it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "django_huyi_sms"

# Variables of this run that would leak into the processes a test starts: pytest-django's settings
# module, the suite's databases and caches, and the example project's switches.
_RUN_PREFIXES = ("HUYI_", "DJANGO_", "DEMO_", "PYTHON", "PIP_", "VIRTUAL_ENV")
_RUN_NAMES = ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START")


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return {name for name in archive.namelist() if not name.endswith("/")}


@dataclass(frozen=True)
class FreshVenv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a shell in which this virtualenv is activated, without this run's own variables."""
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_RUN_PREFIXES) and name not in _RUN_NAMES
        }
        environment["VIRTUAL_ENV"] = str(self.root)
        environment["PATH"] = f"{self.bin}{os.pathsep}{environment.get('PATH', os.defpath)}"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment.update(extra)
        return environment

    def run(self, *args: str | Path, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run a command in this virtualenv; fail the test with its output if it fails."""
        result = subprocess.run(
            [str(arg) for arg in args], cwd=cwd, env=self.env(**extra_env), capture_output=True, text=True, timeout=240
        )
        if result.returncode:
            pytest.fail(
                f"{' '.join(map(str, args))} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def imported_from(self, cwd: Path) -> Path:
        """Where ``import django_huyi_sms`` finds the package when run from ``cwd``."""
        result = self.run(self.python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)", cwd=cwd)
        return Path(result.stdout.strip()).resolve()


_built: Distributions | None = None
_venv: FreshVenv | None = None


def built_distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    """This checkout's sdist and wheel, built once per session."""
    global _built
    if _built is None:
        _built = _build(tmp_path_factory.mktemp("dist"))
    return _built


def fresh_venv_with_wheel(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """A new virtualenv with the built wheel installed, made once per session (the tests only read it)."""
    global _venv
    if _venv is None:
        wheel = built_distributions(tmp_path_factory).wheel
        _venv = _install(wheel, tmp_path_factory.mktemp("venv") / "venv")
    return _venv


def git_files(*options: str) -> list[str] | None:
    """``git ls-files`` of this repository (files that exist), or None where it is not a git checkout (an unpacked sdist)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", *options], cwd=REPO, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:  # no git here
        return None
    if listed.returncode != 0 or not listed.stdout:
        return None
    return [name for name in listed.stdout.split("\0") if name and (REPO / name).is_file()]


def tree_package_files() -> set[str]:
    """The package's files in this source tree, as paths relative to the repository (``django_huyi_sms/…``).

    In a git checkout, the files git tracks (a stray local file is not the package's); in an
    unpacked sdist, every file there is.
    """
    tracked = git_files("--", PACKAGE)
    if tracked is not None:
        return set(tracked)
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _build(outdir: Path) -> Distributions:
    # A copy of the tree, so that the build's egg-info and build/ directories do not land in the
    # checkout (nor race another run's), and only what git tracks goes in.
    source = outdir.parent / "source"
    _copy_tracked_tree(source)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode:
        pytest.fail(f"python -m build failed\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return Distributions(sdist=sdist, wheel=wheel)


def _copy_tracked_tree(destination: Path) -> None:
    # Tracked files and new ones not ignored: what the next commit would hold.
    files = git_files("--cached", "--others", "--exclude-standard")
    if files is None:  # not a git checkout (an unpacked sdist): all of it
        shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".venv*", "build", "dist"))
        return
    for name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)


def _install(wheel: Path, root: Path) -> FreshVenv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    venv = FreshVenv(root)
    # This virtualenv's pip installs into the new one (pip --python): no pip to bootstrap there,
    # and no index is asked.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=240,
        env=venv.env(),
    )
    if result.returncode:
        pytest.fail(f"installing the wheel failed\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    purelib = Path(
        subprocess.run(
            [str(venv.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            env=venv.env(),
        ).stdout.strip()
    )
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "_test_run_dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    # What pip would have made when installing Django itself: the command the quickstart runs.
    django_admin = venv.bin / "django-admin"
    django_admin.write_text(
        f"#!{venv.python}\nimport sys\nfrom django.core.management import execute_from_command_line\n"
        "sys.exit(execute_from_command_line())\n"
    )
    django_admin.chmod(0o755)
    return venv
