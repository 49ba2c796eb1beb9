"""The admin: every send with its receipts and replies, read-only (a log must not be edited away).

One module per list: ``sends`` (``SmsLog``, its actions, the balance and the
dashboard), ``bulk`` (bulk sends), ``pushes`` (receipts, replies, opt-outs), ``sms_templates``,
``codes`` (one-time codes); ``dashboard`` draws the delivery dashboard and lists it in the
admin's index. ``base``, ``pagination`` and ``filters`` keep the lists fast on millions of
rows; ``display``, ``charts`` and ``export`` draw.
"""

from __future__ import annotations

from .base import FULL_MOBILE_PERMISSION, OwnFiltersOnlyMixin, ReadOnlyAdminMixin
from .bulk import BulkSendAdmin
from .codes import OtpRecordAdmin
from .dashboard import DeliveryDashboardAdmin
from .pushes import OptOutAdmin, StatusReceiptAdmin, UpstreamReplyAdmin
from .sends import SmsLogAdmin
from .sms_templates import SmsTemplateAdmin

__all__ = [
    "FULL_MOBILE_PERMISSION",
    "ReadOnlyAdminMixin",
    "OwnFiltersOnlyMixin",
    "SmsLogAdmin",
    "BulkSendAdmin",
    "StatusReceiptAdmin",
    "UpstreamReplyAdmin",
    "OptOutAdmin",
    "SmsTemplateAdmin",
    "OtpRecordAdmin",
    "DeliveryDashboardAdmin",
]
