"""Helpers for the code-flow tests: users with numbers, and the code an SMS carried."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model

import django_huyi_sms
from django_huyi_sms.models import UserMobile

MOBILE = "13800138000"
OTHER_MOBILE = "13900139000"
PASSWORD = "Old-passw0rd!"


def make_user(username: str = "alice", mobile: str | None = MOBILE, **extra):
    user = get_user_model().objects.create_user(username, password=PASSWORD, **extra)
    if mobile:
        UserMobile.objects.create(user=user, mobile=mobile)
    return user


def last_code(mobile: str = MOBILE) -> str:
    """The code in the latest SMS the locmem backend sent to ``mobile``."""
    messages = [message for message in django_huyi_sms.outbox if message.mobile == mobile]
    assert messages, f"no SMS was sent to {mobile}"
    return re.search(r"\d{4,}", messages[-1].content).group(0)


def sms_count(mobile: str = MOBILE) -> int:
    return sum(1 for message in django_huyi_sms.outbox if message.mobile == mobile)
