"""The app speaks Simplified Chinese and English."""

from __future__ import annotations

from django.utils import translation

from django_huyi_sms.models import SmsLog


def test_status_labels_in_zh_hans_and_en():
    with translation.override("zh-hans"):
        assert str(SmsLog.Status.DELIVERED.label) == "已送达"
        assert str(SmsLog._meta.verbose_name) != "SMS log"
    with translation.override("en"):
        assert str(SmsLog.Status.DELIVERED.label) == "Delivered"
