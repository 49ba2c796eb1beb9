"""What the app records: every message sent, and the templates submitted for review."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import purposes, template_variables, validation
from .conf import huyi_settings
from .exceptions import CodeExpired, DailyLimitReached, InvalidCode, ReceiptCode, ResendTooSoon, TooManyAttempts
from .provider import mask_mobile

PRODUCT_LABELS = {
    "sms": _("Verification / notification SMS"),
    "marketing": _("Marketing SMS"),
    "voice": _("Voice verification code"),
    "voice_notice": _("Voice notice"),
    "international": _("International SMS"),
}


class Product(models.TextChoices):
    SMS = "sms", PRODUCT_LABELS["sms"]
    MARKETING = "marketing", PRODUCT_LABELS["marketing"]
    VOICE = "voice", PRODUCT_LABELS["voice"]
    VOICE_NOTICE = "voice_notice", PRODUCT_LABELS["voice_notice"]
    INTERNATIONAL = "international", PRODUCT_LABELS["international"]


#: The label of a field holding the provider's message id: the admin capitalises a verbose name
#: (a bare "smsid" reads "Smsid"), so it says what the value is and keeps the provider's term.
SMSID_LABEL = _("provider serial no. (smsid)")


class SmsLog(models.Model):
    """One message to one number, from the moment it is asked for to its delivery receipt.

    The status only moves forward: ``queued → submitted → delivered | undelivered``,
    ``queued → failed`` (the provider refused, or nothing reached it), or
    ``queued → unknown`` (the request may have reached the provider but no answer
    came: it is never sent again automatically, and a matching receipt, or the
    late answer itself, moves it on). Transitions are conditional UPDATEs (see
    ``sending.py`` and ``receipts.py``), never a read-modify-write, so racing
    writers cannot move it back.

    A ``queued`` row is waiting for a worker while ``claimed_at`` is empty, and
    being sent since ``claimed_at`` otherwise: only an unclaimed row may be handed
    to a worker again (``huyi_requeue``); a claimed one that never finished may
    have been sent, so it becomes ``unknown``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SUBMITTED = "submitted", _("Submitted")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Undelivered")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    product = models.CharField(_("product"), max_length=16, choices=Product.choices, default=Product.SMS)
    mobile = models.CharField(_("mobile"), max_length=32)
    content = models.TextField(_("content"))
    parts = models.PositiveSmallIntegerField(_("billed parts"), default=1)
    # A template send: the template and its variables (a code's starred out), from which the
    # provider rendered ``content``. A queued one is sent from these.
    templateid = models.BigIntegerField(_("template id"), null=True, blank=True)
    variables = models.JSONField(_("template variables"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    smsid = models.CharField(SMSID_LABEL, max_length=64, blank=True, default="")
    provider_code = models.IntegerField(_("provider code"), null=True, blank=True)
    provider_msg = models.CharField(_("provider message"), max_length=255, blank=True, default="")
    receipt_code = models.CharField(_("receipt code"), max_length=32, blank=True, default="")
    receipt_msg = models.CharField(_("receipt message"), max_length=255, blank=True, default="")
    purpose = models.CharField(_("purpose"), max_length=purposes.MAX_LENGTH, blank=True, default="")
    carries_code = models.BooleanField(
        _("carries a code"),
        default=False,
        help_text=_("The text held a one-time code or another secret, starred out here; it is never sent again."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resent_from = models.ForeignKey(
        "self",
        verbose_name=_("resent from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resends",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    dispatched_at = models.DateTimeField(
        _("handed to a worker"),
        null=True,
        blank=True,
        help_text=_("When the queued message was handed to the task queue, or when its retry is due."),
    )
    claimed_at = models.DateTimeField(
        _("sending since"),
        null=True,
        blank=True,
        help_text=_("When a worker took the message to send it; empty while it waits in the queue."),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("receipt time"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Set by receipts.py on a queued row when a receipt came that may be this row's, before
    # its smsid was recorded: the sender then looks for it (receipts.py explains the protocol).
    receipt_waiting = models.BooleanField(default=False, editable=False)
    # A recipient of a bulk send (bulk.py): its batch's rows go out in one Submit, with one smsid.
    # The indexes that lead with it (Meta) serve its lookups, so the key needs none of its own.
    bulk = models.ForeignKey(
        "BulkSend",
        verbose_name=_("bulk send"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="logs",
        db_index=False,
    )
    batch = models.PositiveIntegerField(_("batch"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS log")
        verbose_name_plural = _("SMS logs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["smsid"], name="huyi_sms_smsid_idx"),
            models.Index(fields=["mobile", "-created_at"], name="huyi_sms_mobile_idx"),
            models.Index(fields=["-created_at"], name="huyi_sms_created_idx"),
            models.Index(fields=["status", "-created_at"], name="huyi_sms_status_idx"),
            # The admin's product and purpose filters (and the purpose filter's list of values).
            models.Index(fields=["product", "-created_at"], name="huyi_sms_product_idx"),
            models.Index(fields=["purpose", "-created_at"], name="huyi_sms_purpose_idx"),
            # A bulk send's batches (the worker's claim), its progress and its recipients' page.
            models.Index(fields=["bulk", "batch"], name="huyi_sms_bulk_batch_idx"),
            # The admin's bulk send filter, in the list's order.
            models.Index(fields=["bulk", "-created_at"], name="huyi_sms_log_bulk_idx"),
        ]
        permissions = [("view_full_mobile", _("Can see full mobile numbers"))]

    def __str__(self) -> str:
        return f"{self.get_product_display()} → {self.masked_mobile} ({self.get_status_display()})"

    def __repr__(self) -> str:
        return f"<SmsLog {self.pk} {self.product} {self.masked_mobile} {self.status} smsid={self.smsid or '-'}>"

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.mobile)

    @property
    def is_final(self) -> bool:
        """No push or answer can change the status any more (``unknown`` is not final: a receipt may come)."""
        return self.status in (self.Status.DELIVERED, self.Status.UNDELIVERED, self.Status.FAILED)


class DeliveryDashboard(SmsLog):
    """No data of its own: the admin's delivery dashboard, listed with the app's models.

    Django's admin index and app index list registered models only, so the dashboard
    (``admin/dashboard.py``) is reached from them through this proxy. It has no
    permissions of its own: whoever may view the sends may view it.
    """

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("delivery dashboard")
        verbose_name_plural = _("delivery dashboard")


class BulkSend(models.Model):
    """One ``send_bulk()``: a text to many numbers, sent in batches, one Submit per batch.

    Each recipient has its own ``SmsLog`` row (``logs``), numbered with its
    ``batch``; the rows of a batch go out together and share their Submit's
    smsid. Numbers that opted out of marketing get no message and are counted in
    ``opted_out`` (when sending began), or keep a ``failed`` row and are counted
    too (when they opted out while queued). Numbers given twice are sent once.
    """

    product = models.CharField(_("product"), max_length=16, choices=Product.choices, default=Product.MARKETING)
    content = models.TextField(_("content"))
    parts = models.PositiveSmallIntegerField(_("billed parts"), default=1)
    scheduled_at = models.DateTimeField(
        _("scheduled for"),
        null=True,
        blank=True,
        help_text=_("The provider sends the messages at this time; empty: at once."),
    )
    batch_size = models.PositiveIntegerField(_("numbers per batch"))
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    opted_out = models.PositiveIntegerField(
        _("opted out"), default=0, help_text=_("Numbers not sent to because they opted out of marketing.")
    )
    duplicates = models.PositiveIntegerField(
        _("duplicates"), default=0, help_text=_("Numbers given more than once, sent to once.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("bulk send")
        verbose_name_plural = _("bulk sends")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The bulk sends admin: newest first and its product filter.
            models.Index(fields=["-created_at"], name="huyi_sms_bulk_created_idx"),
            models.Index(fields=["product", "-created_at"], name="huyi_sms_bulk_product_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {validation.excerpt(self.content, 30)} ({self.recipients})"

    @property
    def batches(self) -> int:
        """How many Submits the recipients take."""
        return -(-self.recipients // self.batch_size) if self.batch_size else 0

    def progress(self) -> dict[str, int]:
        """How many of its messages are in each ``SmsLog.Status`` now (every status listed), in one query."""
        counts = dict.fromkeys(SmsLog.Status.values, 0)
        for status, count in self.logs.order_by().values_list("status").annotate(count=models.Count("pk")):
            counts[status] = count
        return counts


class SmsTemplate(models.Model):
    """A message template submitted to the provider for review (AddTemplate)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    product = models.CharField(_("product"), max_length=16, choices=Product.choices, default=Product.SMS)
    content = models.TextField(_("content"))
    templateid = models.BigIntegerField(_("template id"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    review_msg = models.CharField(_("review message"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "templateid"], name="huyi_sms_unique_templateid"),
        ]
        indexes = [
            # The templates admin: newest first, its status and product filters, the search by id.
            models.Index(fields=["-created_at"], name="huyi_sms_tpl_created_idx"),
            models.Index(fields=["status", "-created_at"], name="huyi_sms_tpl_status_idx"),
            models.Index(fields=["product", "-created_at"], name="huyi_sms_tpl_product_idx"),
            models.Index(fields=["templateid"], name="huyi_sms_tpl_templateid_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.templateid or '-'} {validation.excerpt(self.content, 40)}"

    @property
    def variable_count(self) -> int:
        """How many variables a send from this template takes: one per 【变量】 place."""
        return template_variables.count_variables(self.content)

    @property
    def is_verification(self) -> bool:
        """A verification template, whose variables take at most 8 characters (``template_variables.py``)."""
        return template_variables.is_verification_template(self.content)

    def render(self, variables: Sequence[str | int]) -> str:
        """The text a send from this template with ``variables`` puts on the phone.

        Raises what the provider's codes stand for (``template_variables.check_values``).
        """
        return template_variables.render(self.content, template_variables.check_values(self.content, variables))


class StatusReceipt(models.Model):
    """One delivery-receipt push, as it came (the provider may push the same one up to three times).

    ``log`` is set once the receipt is matched to its send; a receipt that came
    before its send was recorded waits here, unmatched, until the send records
    its ``smsid`` (see ``receipts.py``).
    """

    smsid = models.CharField(SMSID_LABEL, max_length=64)
    mobile = models.CharField(_("mobile"), max_length=32)
    code = models.CharField(
        _("receipt code"), max_length=16, help_text=_("2 = delivered; anything else = not delivered")
    )
    msg = models.CharField(_("receipt message"), max_length=255, blank=True, default="")
    report_time = models.DateTimeField(_("report time"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    log = models.ForeignKey(
        SmsLog,
        verbose_name=_("SMS log"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="receipts",
    )
    duplicate = models.BooleanField(
        _("duplicate"), default=False, help_text=_("The same receipt had already arrived (a provider retry).")
    )
    raw = models.JSONField(_("raw push"), default=dict)

    class Meta:
        verbose_name = _("delivery receipt")
        verbose_name_plural = _("delivery receipts")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["smsid", "mobile"], name="huyi_sms_receipt_smsid_idx"),
            models.Index(
                fields=["smsid"],
                name="huyi_sms_receipt_pending_idx",
                condition=models.Q(log__isnull=True),
            ),
            # The receipts admin: newest first, and the search by mobile.
            models.Index(fields=["-received_at"], name="huyi_sms_receipt_recv_idx"),
            models.Index(fields=["mobile", "-received_at"], name="huyi_sms_receipt_mobile_idx"),
            models.Index(fields=["duplicate", "-received_at"], name="huyi_sms_receipt_dup_idx"),
        ]
        constraints = [
            # One original per receipt: identical copies, however close together, are duplicates.
            models.UniqueConstraint(
                fields=["smsid", "mobile", "code", "report_time"],
                condition=models.Q(duplicate=False),
                name="huyi_sms_receipt_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.smsid} {mask_mobile(self.mobile)} code={self.code}"

    @property
    def delivered(self) -> bool:
        return self.code == ReceiptCode.DELIVERED


class UpstreamReply(models.Model):
    """A text somebody sent back (上行回复). Each push is stored once, however often it is retried."""

    mobile = models.CharField(_("mobile"), max_length=32, db_index=True)
    content = models.TextField(_("content"))
    smsid = models.CharField(SMSID_LABEL, max_length=64, blank=True, default="")
    reply_time = models.DateTimeField(_("reply time"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    log = models.ForeignKey(
        SmsLog,
        verbose_name=_("replied to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    is_opt_out = models.BooleanField(_("opt-out"), default=False)
    fingerprint = models.CharField(max_length=64, unique=True, editable=False)
    raw = models.JSONField(_("raw push"), default=dict)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["-reply_time", "-id"]
        indexes = [
            # The replies admin: newest first, its opt-out filter, the search by smsid (mobile has db_index).
            models.Index(fields=["-reply_time"], name="huyi_sms_reply_time_idx"),
            models.Index(fields=["is_opt_out", "-reply_time"], name="huyi_sms_reply_optout_idx"),
            models.Index(fields=["smsid"], name="huyi_sms_reply_smsid_idx"),
        ]

    def __str__(self) -> str:
        return f"{mask_mobile(self.mobile)}: {validation.excerpt(self.content, 30)}"


class OptOut(models.Model):
    """A number that must not get marketing messages."""

    class Reason(models.TextChoices):
        REPLIED = "replied", _("Replied T / TD / N / 退订")
        BLACKLISTED = "blacklisted", _("Blacklisted by the provider")
        MANUAL = "manual", _("Added by staff")

    mobile = models.CharField(_("mobile"), max_length=32, unique=True)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    reply = models.ForeignKey(
        UpstreamReply, verbose_name=_("reply"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        ordering = ["-created_at"]
        indexes = [
            # The opt-outs admin: newest first and its reason filter (mobile is unique).
            models.Index(fields=["-created_at"], name="huyi_sms_optout_created_idx"),
            models.Index(fields=["reason", "-created_at"], name="huyi_sms_optout_reason_idx"),
        ]

    def __str__(self) -> str:
        return f"{mask_mobile(self.mobile)} ({self.get_reason_display()})"


class OtpRecord(models.Model):
    """One one-time code sent to a number for a purpose.

    The code itself is never stored: ``code_hash`` is a keyed HMAC (``SECRET_KEY``)
    of the code with a per-record salt, compared in constant time (``otp.py``).

    Its verbs, after django-otp's ``ThrottlingMixin``: :meth:`check_try` (may a
    code be tried against it now?), :meth:`count_wrong_try` and :meth:`use`; and
    for its send: :meth:`claim` (a worker made the code),
    :meth:`replace_earlier` (it has left) and :meth:`fail` (it never will).

    A new code replaces the number's earlier one only once it has left: until
    then the earlier code may be the only one on the phone, and a send that fails
    must not take it away. So for a while two codes can be live; every write
    that touches several records locks them newest first, the order
    ``otp.verify_code`` takes them in, so that neither waits on the other for ever.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        USED = "used", _("Used")
        SUPERSEDED = "superseded", _("Superseded by a newer code")
        LOCKED = "locked", _("Too many wrong tries")
        FAILED = "failed", _("Could not be sent")

    class Channel(models.TextChoices):
        """How the code reached the phone: texted (the ``sms`` product), or spoken in a call (``voice``)."""

        SMS = "sms", _("SMS")
        VOICE = "voice", _("Voice call")

    mobile = models.CharField(_("mobile"), max_length=32)
    purpose = models.CharField(_("purpose"), max_length=purposes.MAX_LENGTH)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.SMS)
    code_hash = models.CharField(max_length=64, editable=False)
    salt = models.CharField(max_length=32, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("requested from"), null=True, blank=True)
    sms_log = models.ForeignKey(
        SmsLog, verbose_name=_("SMS log"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "purpose", "-created_at"], name="huyi_sms_otp_lookup_idx"),
            # The one-time codes admin: newest first and its status filter.
            models.Index(fields=["-created_at"], name="huyi_sms_otp_created_idx"),
            models.Index(fields=["status", "-created_at"], name="huyi_sms_otp_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{mask_mobile(self.mobile)} {self.purpose} ({self.get_status_display()})"

    def __repr__(self) -> str:
        return f"<OtpRecord {self.pk} {mask_mobile(self.mobile)} {self.purpose} {self.status}>"

    def check_try(self, now: datetime) -> None:
        """Raise unless a code may be tried against this one at ``now``.

        :class:`InvalidCode` once it is used, superseded or was never sent,
        :class:`TooManyAttempts` after ``OTP["MAX_ATTEMPTS"]`` wrong tries,
        :class:`CodeExpired` after ``expires_at``. Asked before the code is
        compared, so that even the right code of a dead record is refused.
        """
        if self.status in (self.Status.USED, self.Status.SUPERSEDED, self.Status.FAILED):
            raise InvalidCode()
        if self.status == self.Status.LOCKED or self.attempts >= _max_attempts():
            raise TooManyAttempts()
        if now >= self.expires_at:
            raise CodeExpired()

    def count_wrong_try(self) -> None:
        """Count a wrong code tried against this one; the ``OTP["MAX_ATTEMPTS"]``-th kills it (``locked``).

        One UPDATE that adds in the database and only touches a live code: no
        concurrent wrong try is lost, and a code used meanwhile is not brought
        back. The instance follows (exactly, under ``verify_code``'s row lock).
        """
        max_attempts = _max_attempts()
        counted = OtpRecord.objects.filter(pk=self.pk, status=self.Status.ACTIVE).update(
            attempts=F("attempts") + 1,
            status=Case(
                When(attempts__gte=max_attempts - 1, then=Value(self.Status.LOCKED)),
                default=Value(self.Status.ACTIVE),
            ),
        )
        if counted:
            self.attempts += 1
            if self.attempts >= max_attempts:
                self.status = self.Status.LOCKED

    def use(self, now: datetime) -> None:
        """Use the code up: it verifies once. Raises :class:`InvalidCode` if another verification got there first.

        The UPDATE only takes a live code (``WHERE status = 'active'``), so of two
        correct verifications at once exactly one succeeds, lock or no lock.
        """
        connection, sql = _statement(
            "use",
            lambda q: f"UPDATE {q.table} SET {q.status} = %s, {q.used_at} = %s WHERE {q.id} = %s AND {q.status} = %s",
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.Status.USED, _datetime(now, connection), self.pk, self.Status.ACTIVE])
            if not cursor.rowcount:
                raise InvalidCode()
        self.status, self.used_at = self.Status.USED, now

    @classmethod
    def latest_and_live(cls, mobile: str, purpose: str, now: datetime) -> list[OtpRecord]:
        """The number's latest code for ``purpose`` (failed sends left out, whatever its state) and its
        codes that may be on the phone (live and unexpired at ``now``), newest first, locked until the
        transaction ends: one SELECT.

        The latest comes first: every other row is live, so not a failed send, so older. The
        lock makes concurrent verifications take turns: the second reads the rows as the first
        left them (a code used meanwhile is no longer live, and if it was the latest it is still
        read, used, and refused). Taken newest first, as :meth:`replace_earlier` takes them.
        """
        from . import statements

        def build(q: _Columns) -> str:
            newest_first = f"{q.created_at} DESC, {q.id} DESC"
            latest = (
                f"SELECT {q.id} FROM {q.table} WHERE {q.mobile} = %s AND {q.purpose} = %s AND {q.status} <> %s "
                f"ORDER BY {newest_first} {q.limit_one}"
            )
            sql = (
                f"SELECT {statements.columns(cls, q.connection, q.table)} FROM {q.table} "
                f"WHERE {q.mobile} = %s AND {q.purpose} = %s "
                f"AND (({q.status} = %s AND {q.expires_at} > %s) OR {q.id} = ({latest})) ORDER BY {newest_first}"
            )
            return sql + (" FOR UPDATE" if q.connection.features.has_select_for_update else "")

        connection, sql = _statement("latest_and_live", build)
        params = [mobile, purpose, cls.Status.ACTIVE, _datetime(now, connection), mobile, purpose, cls.Status.FAILED]
        return statements.select_rows(cls, sql, params)

    @classmethod
    def supersede_unmade(cls, mobile: str, purpose: str) -> bool:
        """A new code was asked for: the number's earlier codes for ``purpose`` that no worker has made yet die now.

        Such a code is on no phone, so nothing is lost, and its worker then
        finds nothing to send (:meth:`claim` only takes a live record).
        Returns whether live codes that were made remain: those the new code
        takes the place of once it has left (:meth:`replace_earlier`). Asked
        under the number's throttle lock, where no other code for the number
        is recorded, it can only be ``True`` too often (a code used
        meanwhile), never ``False`` wrongly: when it is ``False`` the take-over
        has nothing to do and is skipped. One SELECT; the UPDATE only when a
        code waits for a worker.
        """
        connection, sql = _statement(
            "live",
            lambda q: f"SELECT {q.id}, {q.code_hash} FROM {q.table} WHERE {q.mobile} = %s AND {q.purpose} = %s "
            f"AND {q.status} = %s",
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [mobile, purpose, cls.Status.ACTIVE])
            live = cursor.fetchall()
        unmade = [pk for pk, code_hash in live if not code_hash]
        if unmade:
            cls.objects.filter(pk__in=unmade, status=cls.Status.ACTIVE, code_hash="").update(
                status=cls.Status.SUPERSEDED
            )
        return len(unmade) < len(live)

    def claim(self, code_hash: str, log: SmsLog | None = None) -> bool:
        """Store the hash of the code a worker has just made, and its SMS row ``log``; ``False`` if it may not be sent.

        It may not when another delivery of the same task stored one first, or the
        record died while queued (superseded, or locked by wrong tries). The
        UPDATE is conditional, so of two deliveries exactly one sends.
        """
        changes: dict[str, Any] = {"code_hash": code_hash}
        if log is not None:
            changes["sms_log"] = log
        claimed = OtpRecord.objects.filter(pk=self.pk, code_hash="", status=self.Status.ACTIVE).update(**changes)
        if claimed:
            self.code_hash = code_hash
            if log is not None:
                self.sms_log = log
        return bool(claimed)

    def replace_earlier(self) -> None:
        """Supersede the number's earlier live codes for the purpose: this one has taken their place.

        Called once this code has left (submitted, or unknown: it may be on the
        phone), or at once for a code that is never sent; not before, so that a
        send that fails leaves the earlier code working. They are locked newest
        first, as ``verify_code`` locks them.
        """
        with transaction.atomic():
            # A number's codes are recorded one at a time, under its throttle's lock: a smaller key is an earlier code.
            earlier = list(
                OtpRecord.objects.select_for_update()
                .filter(mobile=self.mobile, purpose=self.purpose, status=self.Status.ACTIVE, pk__lt=self.pk)
                .order_by("-created_at", "-id")
                .values_list("pk", flat=True)
            )
            if earlier:
                OtpRecord.objects.filter(pk__in=earlier).update(status=self.Status.SUPERSEDED)

    def replace_earlier_unsent(self) -> None:
        """Supersede the number's earlier live codes whose send was refused: nobody has those either.

        For a refused send that is not reported (sign-in, reset): it stays live like a decoy and
        replaces the code on the phone no more than a reported refusal would, but it takes the
        place of an earlier refused one, so that refusals do not pile up live codes to guess at.
        """
        with transaction.atomic():
            earlier = list(
                OtpRecord.objects.select_for_update()
                .filter(
                    mobile=self.mobile,
                    purpose=self.purpose,
                    status=self.Status.ACTIVE,
                    sms_log__status=SmsLog.Status.FAILED,
                    pk__lt=self.pk,
                )
                .order_by("-created_at", "-id")
                .values_list("pk", flat=True)
            )
            if earlier:
                OtpRecord.objects.filter(pk__in=earlier).update(status=self.Status.SUPERSEDED)

    def fail(self, log: SmsLog | None) -> None:
        """Its send was refused or reached nobody: nobody has this code, and the earlier one stays the one to type."""
        OtpRecord.objects.filter(pk=self.pk).update(status=self.Status.FAILED, sms_log=log)
        self.status, self.sms_log = self.Status.FAILED, log

    def voice_fallback_wait(self, now: datetime, after: float, *, receipts: bool) -> int | None:
        """Seconds until a voice call may stand in for this SMS code (0: now), or ``None`` if it may not.

        Only a live SMS code has a voice fallback: ``after`` seconds once it was
        asked for, and at once when ``receipts`` are heeded and its receipt says
        undelivered. Sign-in and reset do not heed them: a number with no account
        has no SMS and so no receipt, and an early offer would tell the two apart.
        """
        if self.channel != self.Channel.SMS or self.status != self.Status.ACTIVE or now >= self.expires_at:
            return None
        if receipts and self.sms_log_id is not None:
            undelivered = SmsLog.objects.filter(pk=self.sms_log_id, status=SmsLog.Status.UNDELIVERED)
            if undelivered.exists():
                return 0
        left = (self.created_at + timedelta(seconds=after) - now).total_seconds()
        return max(0, math.ceil(left))


def _max_attempts() -> int:
    return huyi_settings.OTP["MAX_ATTEMPTS"]


class _Columns:
    """``OtpRecord``'s table and columns quoted for ``connection``: what its hand-written statements are made of."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.table = connection.ops.quote_name(OtpRecord._meta.db_table)
        self.limit_one = connection.ops.limit_offset_sql(None, 1)

    def __getattr__(self, name: str) -> str:
        columns = {field.name: field.column for field in OtpRecord._meta.concrete_fields}
        return str(self.connection.ops.quote_name(columns[name]))


_statements: dict[tuple[str, str, str], str] = {}


def _statement(name: str, build: Callable[[_Columns], str]) -> tuple[Any, str]:
    """The write connection for ``OtpRecord`` and the SQL of the statement ``name``, made once per database.

    The hot statements of a code are written out once: building them through the ORM cost more
    than running them (measured on SQLite: 1.5 ms of a 2 ms verification).
    """
    connection = connections[router.db_for_write(OtpRecord)]
    key = (name, connection.alias, connection.vendor)
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = build(_Columns(connection))
    return connection, sql


def _datetime(value: datetime, connection: Any) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


class OtpThrottle(models.Model):
    """Per-number sending state, one row per number: the row ``otp.py`` counts each code on, which
    decides concurrent requests for one number one at a time.

    The resend interval (``OTP["RESEND_INTERVAL"]``) runs per purpose: a sign-in code does not hold
    back a password-reset code. ``sent_for`` keeps, per purpose, when its last counted code was
    asked for (POSIX time in microseconds: exact, and compared as a number in SQL). The daily
    tally (``day``, ``sent_today``) counts every purpose. ``last_sent_at`` is the number's latest
    counted code, whatever its purpose (what ``huyi_purge`` reads); ``None`` lifts every wait.

    Its verbs, after django-otp's ``ThrottlingMixin``: :meth:`take` (count a code if the number may
    have one now, or raise why not), :meth:`check_allowed` / :meth:`refusal` (may it, and if not
    why?), :meth:`give_back`.
    """

    mobile = models.CharField(_("mobile"), max_length=32, unique=True)
    last_sent_at = models.DateTimeField(_("last code sent"), null=True, blank=True)
    day = models.DateField(_("day"), null=True, blank=True)
    sent_today = models.PositiveIntegerField(_("codes sent that day"), default=0)
    sent_for = models.JSONField(_("last code per purpose"), default=dict, blank=True)

    class Meta:
        verbose_name = _("code throttle")
        verbose_name_plural = _("code throttles")

    def __str__(self) -> str:
        return mask_mobile(self.mobile)

    @classmethod
    def take(cls, mobile: str, purpose: str, now: datetime, *, resend_interval: bool = True) -> OtpThrottle:
        """Count a code for ``purpose`` asked for at ``now``, or raise why ``mobile`` may not have one.

        Raises what :meth:`check_allowed` raises. Call it inside the transaction that records
        the code: the number's row stays locked until that transaction ends, so twenty requests
        at once for one number are decided one at a time, each seeing the counts the one before
        it left, and a refusal further on rolls the count back. Returns the row as this request
        counted it (for :meth:`give_back`).

        One statement where the database has an upsert that returns rows (PostgreSQL; SQLite
        3.35 and later): ``INSERT … ON CONFLICT (mobile) DO UPDATE … WHERE <allowed> RETURNING``.
        PostgreSQL locks the conflicting row whether or not the ``WHERE`` lets it change, and
        waits for a concurrent insert of the same number, so the check always sees the last
        committed count. Elsewhere the row is made, locked and counted in three.
        """
        connection = connections[router.db_for_write(cls)]
        stamp = _microseconds(now)
        today = timezone.localdate(now)
        config = huyi_settings.OTP
        if _upserts(connection):
            sql = _take_sql(connection)
            values = [mobile, now, today, 1, purpose, stamp]
            params = [
                *(_THROTTLE_FIELDS[name].get_db_prep_save(value, connection=connection)
                  for name, value in zip(_TAKE_COLUMNS, values[:4], strict=True)),
                *values[4:],
                config["DAILY_LIMIT"],
                not resend_interval,
                purpose,
                stamp - config["RESEND_INTERVAL"] * 1_000_000,
            ]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                taken = cursor.fetchone()
            if taken is None:
                # Refused, and the row is ours until the transaction ends: say why.
                cls.objects.get(mobile=mobile).check_allowed(now, purpose, resend_interval=resend_interval)
                raise AssertionError("the database refused a code that check_allowed allows")  # pragma: no cover
            return cls(pk=taken[0], mobile=mobile, last_sent_at=now, day=today, sent_today=taken[1],
                       sent_for={purpose: stamp})
        row = cls._locked(mobile)
        row.check_allowed(now, purpose, resend_interval=resend_interval)
        counted = row._counted_on(today) + 1
        sent_for = {**(row.sent_for if row.last_sent_at is not None else {}), purpose: stamp}
        cls.objects.filter(pk=row.pk).update(last_sent_at=now, day=today, sent_today=counted, sent_for=sent_for)
        return cls(pk=row.pk, mobile=mobile, last_sent_at=now, day=today, sent_today=counted,
                   sent_for={purpose: stamp})

    @classmethod
    def lock(cls, mobile: str) -> None:
        """Lock ``mobile``'s row, if it has one, until the current transaction ends: what :meth:`take` does
        first, for a caller that must read under the lock before it knows what to ask (a voice fallback).
        A number with no row has had no code counted since it was purged, and :meth:`take` locks it."""
        list(cls.objects.select_for_update().filter(mobile=mobile).values_list("pk", flat=True))

    @classmethod
    def _locked(cls, mobile: str) -> OtpThrottle:
        """``mobile``'s row, created if need be, locked until the current transaction ends (no upsert)."""
        while True:
            try:
                with transaction.atomic():
                    cls.objects.get_or_create(mobile=mobile)
            except IntegrityError:  # created concurrently: fine, it exists now
                pass
            row = cls.objects.select_for_update().filter(mobile=mobile).first()
            if row is not None:
                return row
            # huyi_purge deleted the idle row in between (retention.py): make it again.

    def refusal(
        self, now: datetime, purpose: str, *, resend_interval: bool = True
    ) -> ResendTooSoon | DailyLimitReached | None:
        """Why the number may not get a code for ``purpose`` at ``now``, or ``None`` if it may.

        :class:`ResendTooSoon` within ``OTP["RESEND_INTERVAL"]`` of its last counted code for
        ``purpose`` (unless ``resend_interval`` is false: a voice fallback, which waits for its
        own rule instead), :class:`DailyLimitReached` once ``OTP["DAILY_LIMIT"]`` codes, every
        purpose, SMS and voice alike, were counted today; each with ``retry_after`` seconds.
        """
        config = huyi_settings.OTP
        last = self.sent_for.get(purpose) if self.last_sent_at is not None else None
        if resend_interval and last is not None:
            wait = last + config["RESEND_INTERVAL"] * 1_000_000 - _microseconds(now)
            if wait > 0:
                return ResendTooSoon(max(1, math.ceil(wait / 1_000_000)))
        today = timezone.localdate(now)
        if self._counted_on(today) >= config["DAILY_LIMIT"]:
            tomorrow = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
            return DailyLimitReached(max(1, int((tomorrow - now).total_seconds())))
        return None

    def check_allowed(self, now: datetime, purpose: str, *, resend_interval: bool = True) -> None:
        """Raise :meth:`refusal`'s error, if there is one. Ask holding the row's lock (:meth:`take`),
        or two requests can both be allowed the last code."""
        refusal = self.refusal(now, purpose, resend_interval=resend_interval)
        if refusal is not None:
            raise refusal

    def give_back(self, purpose: str) -> None:
        """Take back the code :meth:`take` counted for ``purpose`` on this instance: its send was refused or
        reached nobody, so the person may ask again at once.

        Under the row's lock, and only what is still this code's: the tally drops only on the day
        it was counted, and the purpose's interval is lifted only while it is still this code's.
        Lifted, not restored to the code before: that one was counted at least an interval
        earlier (or this one would have been refused), so it holds nothing back any more.
        """
        with transaction.atomic():
            row = OtpThrottle.objects.select_for_update().filter(pk=self.pk).first()
            if row is None:
                return
            if row.day == self.day and row.sent_today > 0:
                row.sent_today -= 1
            stamp = self.sent_for.get(purpose)
            if stamp is not None and row.sent_for.get(purpose) == stamp:
                del row.sent_for[purpose]
                if row.last_sent_at == self.last_sent_at:
                    # The number's latest code is now the latest one left, if any.
                    latest = max(row.sent_for.values(), default=None)
                    row.last_sent_at = None if latest is None else _from_microseconds(latest)
            row.save(update_fields=["sent_today", "sent_for", "last_sent_at"])

    def _counted_on(self, day: date) -> int:
        return self.sent_today if self.day == day else 0


def _microseconds(moment: datetime) -> int:
    """``moment`` as POSIX time in whole microseconds: what ``OtpThrottle.sent_for`` keeps."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_microseconds(stamp: int) -> datetime:
    return _EPOCH + timedelta(microseconds=stamp)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_THROTTLE_FIELDS = {field.name: field for field in OtpThrottle._meta.concrete_fields}
_TAKE_COLUMNS = ("mobile", "last_sent_at", "day", "sent_today")
_take_sql_cache: dict[str, str] = {}


def _upserts(connection: Any) -> bool:
    """Whether :meth:`OtpThrottle.take` can be one statement on ``connection``."""
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 35)


def _take_sql(connection: Any) -> str:
    """The upsert of :meth:`OtpThrottle.take` for ``connection``'s database, made once per vendor.

    Its parameters: mobile, now, today, 1, purpose, now in microseconds (the row to insert); the
    daily limit; whether to skip the resend interval; the purpose; the latest microsecond a code
    for the purpose may have been counted at for another one to be allowed now.
    """
    vendor = connection.vendor
    sql = _take_sql_cache.get(vendor)
    if sql is not None:
        return sql
    quote = connection.ops.quote_name
    table = quote(OtpThrottle._meta.db_table)
    mobile, last, day, sent, sent_for = (quote(_THROTTLE_FIELDS[name].column) for name in (*_TAKE_COLUMNS, "sent_for"))
    if vendor == "postgresql":
        new_purpose = "jsonb_build_object(%s::text, %s::bigint)"
        kept = f"CASE WHEN t.{last} IS NULL THEN '{{}}'::jsonb ELSE t.{sent_for} END || EXCLUDED.{sent_for}"
        last_for_purpose = f"(t.{sent_for} ->> %s::text)::bigint"
        other_day = f"t.{day} IS DISTINCT FROM EXCLUDED.{day}"
        skip = "%s::boolean"
        bound = "%s::bigint"
    else:
        new_purpose = "json_object(%s, %s)"
        kept = f"json_patch(CASE WHEN t.{last} IS NULL THEN '{{}}' ELSE t.{sent_for} END, excluded.{sent_for})"
        # json_each rather than a JSON path: a purpose is any label, and a path would need quoting.
        last_for_purpose = f"(SELECT value FROM json_each(t.{sent_for}) WHERE key = %s)"
        other_day = f"t.{day} IS NOT excluded.{day}"
        skip = bound = "%s"
    sql = (
        f"INSERT INTO {table} AS t ({mobile}, {last}, {day}, {sent}, {sent_for}) "
        f"VALUES (%s, %s, %s, %s, {new_purpose}) "
        f"ON CONFLICT ({mobile}) DO UPDATE SET {last} = excluded.{last}, {day} = excluded.{day}, "
        f"{sent} = CASE WHEN t.{day} = excluded.{day} THEN t.{sent} + 1 ELSE 1 END, {sent_for} = {kept} "
        # Allowed: under the daily limit (a new day starts a new tally), and past the purpose's
        # interval (no code for it, or none since the waits were lifted, or long enough ago).
        f"WHERE ({other_day} OR t.{sent} < %s) "
        f"AND ({skip} OR t.{last} IS NULL OR COALESCE({last_for_purpose}, 0) <= {bound}) "
        f"RETURNING {quote(OtpThrottle._meta.pk.column)}, {sent}"
    )
    _take_sql_cache[vendor] = sql
    return sql


class SiteCodeCount(models.Model):
    """How many codes the whole site has sent in one clock hour or one day: what the site-wide cap
    against SMS pumping counts on (``site_limits.py``). One row per window.

    Its verbs: :meth:`take` (count one code if the window has room), :meth:`give_back` and
    :meth:`trip` (the first refusal of a full window, so operators are told once).
    """

    class Window(models.TextChoices):
        HOUR = "hour", _("clock hour")
        DAY = "day", _("calendar day")

    window = models.CharField(_("window"), max_length=8, choices=Window.choices)
    started_at = models.DateTimeField(_("window start"))
    count = models.PositiveIntegerField(_("codes"), default=0)
    tripped_at = models.DateTimeField(_("cap reached"), null=True, blank=True)

    class Meta:
        verbose_name = _("site-wide code count")
        verbose_name_plural = _("site-wide code counts")
        constraints = [
            models.UniqueConstraint(fields=["window", "started_at"], name="huyi_sms_site_count_once"),
        ]

    def __str__(self) -> str:
        return f"{self.window} from {self.started_at:%Y-%m-%d %H:%M}: {self.count}"

    @classmethod
    def take(cls, window: str, started_at: datetime, limit: int) -> bool:
        """Count one code in the window starting ``started_at`` if fewer than ``limit`` are counted; ``False`` if full.

        One conditional UPDATE (``count < limit``): on PostgreSQL a concurrent
        request waits for the row and then sees the count the other left, so the
        count never passes ``limit``. The first code of a window INSERTs its row.
        """
        room = cls.objects.filter(window=window, started_at=started_at, count__lt=limit)
        if room.update(count=F("count") + 1):
            return True
        if not cls.objects.filter(window=window, started_at=started_at).exists():
            try:
                with transaction.atomic():
                    cls.objects.create(window=window, started_at=started_at, count=1)
                return True
            except IntegrityError:
                pass
        # The row exists now: full, or made by a concurrent request since the UPDATE above
        # looked (so that UPDATE found nothing to count on). Ask it again.
        return bool(room.update(count=F("count") + 1))

    @classmethod
    def give_back(cls, window: str, started_at: datetime) -> None:
        """Take back one code :meth:`take` counted: its send was refused or reached nobody."""
        cls.objects.filter(window=window, started_at=started_at, count__gt=0).update(count=F("count") - 1)

    @classmethod
    def trip(cls, window: str, started_at: datetime, now: datetime) -> bool:
        """Mark the window's cap as reached at ``now``; ``True`` for the one refusal that marked it."""
        return bool(
            cls.objects.filter(window=window, started_at=started_at, tripped_at__isnull=True).update(tripped_at=now)
        )


class BalanceAlarm(models.Model):
    """Whether a product's balance was under ``LOW_BALANCE_THRESHOLD`` at its last reading, per account,
    so the alarm rings once when it goes under, not at every reading under it (``balance_alarm.py``).

    No row: not low. Its verb, :meth:`flip`, is one conditional UPDATE: of two processes that read
    the same low balance at once, exactly one flips it and rings.
    """

    product = models.CharField(_("product"), max_length=16, choices=Product.choices)
    account = models.CharField(_("account (APIID)"), max_length=64)
    low = models.BooleanField(_("low"), default=False)
    balance = models.IntegerField(_("balance when it crossed"), null=True, blank=True)
    changed_at = models.DateTimeField(_("crossed"), null=True, blank=True)

    class Meta:
        verbose_name = _("balance alarm")
        verbose_name_plural = _("balance alarms")
        constraints = [
            models.UniqueConstraint(fields=["product", "account"], name="huyi_sms_balance_alarm_once"),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.account}: {'low' if self.low else 'ok'}"

    @classmethod
    def flip(cls, product: str, account: str, *, low: bool, balance: int, now: datetime) -> bool:
        """Record that ``product``'s balance is (``low``) or is not under the threshold; ``True`` only for
        the reading that changed it (the crossing), whoever else read the same balance at the same time."""
        values = {"low": low, "balance": balance, "changed_at": now}
        if cls.objects.filter(product=product, account=account, low=not low).update(**values):
            return True
        if not low:
            return False  # no row, or not low already: nothing crossed
        try:
            with transaction.atomic():
                cls.objects.create(product=product, account=account, **values)
            return True
        except IntegrityError:  # it is low already, or a concurrent reading just recorded it so
            return False


class UserMobile(models.Model):
    """A user's verified mobile number, when the user model has no field of its own for it.

    One user, one number; a number belongs to at most one user.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="huyi_mobile"
    )
    mobile = models.CharField(_("mobile"), max_length=32, unique=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)

    class Meta:
        verbose_name = _("user mobile")
        verbose_name_plural = _("user mobiles")

    def __str__(self) -> str:
        return mask_mobile(self.mobile)
