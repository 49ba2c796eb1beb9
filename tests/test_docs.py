"""The docs cannot drift from the code: settings and defaults, the Python API, result codes, the site build."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import django_huyi_sms
from django_huyi_sms import exceptions, otp, signals
from django_huyi_sms.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def table_rows(text: str, header: str) -> list[tuple[str, list[str]]]:
    """Each row of every table whose header line starts with ``header``, with the ``## `` section it is in."""
    rows, section, inside = [], "", False
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith(header):
            inside = True
            continue
        if inside and line.startswith("|"):
            if not line.startswith("|---"):
                rows.append((section, [cell.strip() for cell in line.strip().strip("|").split(" | ")]))
        else:
            inside = False
    return rows


# -- settings.md: every key, with its default --------------------------------------------------

NESTED = [key for key, value in DEFAULTS.items() if isinstance(value, dict) and value]


def flat_defaults() -> dict[str, Any]:
    flat = {}
    for key, value in DEFAULTS.items():
        if key in NESTED:
            flat.update({f'{key}["{inner}"]': inner_value for inner, inner_value in value.items()})
        else:
            flat[key] = value
    return flat


def documented_settings() -> dict[str, str]:
    documented = {}
    for section, cells in table_rows(page("settings.md"), "| key | default | meaning |"):
        key = cells[0].strip("`")
        if section == "`SANDBOX`":  # that table lists the sandbox's own keys, bare
            key = f'SANDBOX["{key}"]'
        assert key not in documented, f"{key} is documented twice"
        documented[key] = cells[1]
    return documented


def test_settings_md_documents_every_key_and_no_other():
    assert NESTED == ["OTP", "RATELIMITS", "QUEUE", "MARKETING", "SANDBOX"]
    assert sorted(documented_settings()) == sorted(flat_defaults())


@pytest.mark.parametrize("key", sorted(flat_defaults()))
def test_settings_md_gives_each_key_its_real_default(key):
    written = documented_settings()[key]
    assert written.startswith("`") and written.endswith("`"), f"{key}: the default is not code: {written}"
    assert ast.literal_eval(written.strip("`")) == flat_defaults()[key], f"{key}: settings.md says {written}"


# -- python-api.md: every public name, with its signature -------------------------------------


def plain_signature(function: Any) -> str:
    """``name(a, b="", *, c=None)``: the signature as the page writes it (no annotations, double quotes)."""
    signature = inspect.signature(function)
    parameters = [parameter.replace(annotation=inspect.Parameter.empty) for parameter in signature.parameters.values()]
    text = str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))
    return function.__name__ + text.replace("'", '"')


PUBLIC = [
    (module, name)
    for module in (django_huyi_sms, otp, exceptions)
    for name in module.__all__
]
SIGNALS = sorted(name for name, value in vars(signals).items() if type(value).__name__ == "Signal")


@pytest.mark.parametrize("module, name", PUBLIC, ids=[f"{module.__name__}.{name}" for module, name in PUBLIC])
def test_python_api_md_documents_every_public_name(module, name):
    text = page("python-api.md")
    value = getattr(module, name)
    if inspect.isfunction(value):
        assert f"### `{plain_signature(value)}`" in text, f"python-api.md: no heading with {plain_signature(value)}"
    else:
        assert f"`{name}`" in text


def test_python_api_md_documents_every_signal():
    assert len(SIGNALS) == 7
    rows = [cells[0].strip("`") for _section, cells in table_rows(page("python-api.md"), "| signal |")]
    assert rows == ["sms_sent", "sms_failed", "sms_status_changed", "reply_received", "template_reviewed",
                    "otp_verified", "balance_low"]
    assert sorted(rows) == SIGNALS


# -- errors.md: every result code, with what to do --------------------------------------------


def test_errors_md_has_every_result_code_with_its_text_class_and_what_to_do():
    rows = {int(cells[0]): cells for _section, cells in table_rows(page("errors.md"), "| code | ihuyi's text |")}
    assert sorted(rows) == sorted(exceptions.RESULT_CODES)
    for code, entry in exceptions.RESULT_CODES.items():
        _code, zh, en, raised_as, _locally, what_to_do = rows[code]
        assert (zh, en) == (entry.zh, entry.en), code
        assert raised_as == (f"`{entry.error.__name__}`" if entry.error else "— (success)"), code
        assert len(what_to_do) > 10, f"{code}: say what to do"


def test_errors_md_names_every_otp_refusal():
    text = page("errors.md")
    reasons = {cls.reason for cls in vars(exceptions).values() if isinstance(cls, type)
               and issubclass(cls, exceptions.OtpError) and cls.reason != exceptions.OtpError.reason}
    assert reasons and all(f"`{reason}`" in text for reason in reasons)


# -- the site -----------------------------------------------------------------------------------


@pytest.mark.docs
def test_the_docs_site_builds_strict(tmp_path):
    """``make docs``: any broken link or anchor, or a page outside the nav, fails the build."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "api" / "index.html").exists()
    assert (tmp_path / "site" / "openapi.yaml").exists()


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s+- (?:[^:#\n]+|\"[^\"]+\"): ([\w/.-]+\.md)$", nav, re.M))
    assert listed >= {path.name for path in DOCS.glob("*.md")}


@pytest.mark.docs
def test_the_committed_openapi_yaml_is_what_the_app_describes(tmp_path):
    """``make docs`` rewrites docs/openapi.yaml; a change to the API that forgot to is caught here."""
    pytest.importorskip("drf_spectacular", reason="the openapi extra is not installed")
    written = tmp_path / "openapi.yaml"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "openapi-schema"), str(written)],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert written.read_text(encoding="utf-8") == (DOCS / "openapi.yaml").read_text(encoding="utf-8"), (
        "docs/openapi.yaml is out of date: run make docs"
    )
