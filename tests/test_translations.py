"""The app speaks Simplified Chinese and English."""

from __future__ import annotations

from pathlib import Path

from django.utils import translation

from django_huyi_sms.models import SmsLog


def test_status_labels_in_zh_hans_and_en():
    with translation.override("zh-hans"):
        assert str(SmsLog.Status.DELIVERED.label) == "已送达"
        assert str(SmsLog._meta.verbose_name) != "SMS log"
    with translation.override("en"):
        assert str(SmsLog.Status.DELIVERED.label) == "Delivered"


def _untranslated(po_path: Path) -> list[str]:
    """msgids of ``po_path`` that have no translation or are marked fuzzy (which gettext ignores)."""
    problems = []
    for entry in po_path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in entry.strip().splitlines() if not line.startswith("#~")]
        if not lines or not any(line.startswith("msgid ") for line in lines):
            continue
        msgid = "".join(_strings(lines, "msgid "))
        if not msgid:
            continue  # the header
        translations = [_strings(lines, key) for key in ("msgstr ", "msgstr[0] ")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        if fuzzy or not any("".join(parts) for parts in translations):
            problems.append(msgid)
    return problems


def _strings(lines: list[str], key: str) -> list[str]:
    """The quoted pieces of ``key``'s value, continuation lines included."""
    pieces, inside = [], False
    for line in lines:
        if line.startswith(key):
            inside, line = True, line[len(key):]
        elif not line.startswith('"'):
            inside = False
        if inside and line.startswith('"'):
            pieces.append(line[1:-1])
    return pieces


def test_every_string_of_the_app_and_the_example_has_a_chinese_translation():
    root = Path(__file__).resolve().parents[1]
    for po in (
        root / "django_huyi_sms/locale/zh_Hans/LC_MESSAGES/django.po",
        root / "example_project/example/locale/zh_Hans/LC_MESSAGES/django.po",
    ):
        assert _untranslated(po) == [], po


def test_the_code_flows_speak_chinese():
    from django_huyi_sms.exceptions import InvalidCode, ResendTooSoon

    with translation.override("zh-hans"):
        assert str(InvalidCode()) == "验证码不正确。"
        assert str(ResendTooSoon(30)) == "验证码刚刚已发送，请稍后再获取。"
