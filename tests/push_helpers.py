"""Helpers for the push tests: post like the provider does."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

TOKEN = "test-callback-token"


def push_url(name: str, token: str | None = TOKEN, **query: str) -> str:
    params = dict(query)
    if token is not None:
        params["token"] = token
    url = reverse(f"huyi_sms:{name}")
    return f"{url}?{urlencode(params)}" if params else url


def post_form(client, name: str, fields: dict, token: str | None = TOKEN, **extra):
    """POST form-encoded UTF-8 fields, as the provider does."""
    return client.post(
        push_url(name, token),
        data=urlencode(fields).encode("utf-8"),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def receipt_fields(smsid: str, mobile: str = "13800138000", code: str = "2", **overrides) -> dict:
    fields = {
        "code": code,
        "msg": "DELIVRD" if code == "2" else "UNDELIV",
        "mobilephone": mobile,
        "smsid": smsid,
        "report_time": "2026-11-25 10:00:05",
    }
    fields.update(overrides)
    return fields
