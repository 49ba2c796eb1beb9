"""One-time codes: issue them (with the per-number limits) and check them.

The only module that writes ``OtpRecord`` and ``OtpThrottle`` rows.

* A code comes from :mod:`secrets`, is sent as a normal ``SmsLog`` send, and is
  stored only as an HMAC keyed with ``SECRET_KEY`` (and a per-record salt), so a
  database leak does not reveal live codes. It is compared in constant time.
* Limits are decided under a row lock on the number's ``OtpThrottle`` row, so
  twenty concurrent requests for one number send one SMS, not twenty.
* Verification locks the code's row: two concurrent correct verifications
  succeed once; each wrong try is counted, and ``MAX_ATTEMPTS`` kill the code.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from . import purposes, signals
from .adapter import get_adapter
from .client import mask_mobile
from .conf import huyi_settings
from .exceptions import (
    CodeExpired,
    DailyLimitReached,
    HuyiApiError,
    InvalidCode,
    ResendTooSoon,
    TooManyAttempts,
)
from .models import OtpRecord, OtpThrottle
from .sending import send_sms

__all__ = ["PURPOSES", "request_code", "request_code_for_account", "verify_code"]

logger = logging.getLogger("django_huyi_sms.otp")

#: The purposes the app's own flows use (``purposes.py``); any short label works.
PURPOSES = purposes.ALL

_HMAC_SALT = "django_huyi_sms.otp"


def _hash(record_salt: str, mobile: str, purpose: str, code: str) -> str:
    return salted_hmac(_HMAC_SALT, f"{record_salt}:{mobile}:{purpose}:{code}", algorithm="sha256").hexdigest()


def _new_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def _check_purpose(purpose: str) -> str:
    purpose = str(purpose or "").strip()
    if not purpose or len(purpose) > 32:
        raise ValueError("purpose must be a label of 1 to 32 characters")
    return purpose


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _locked_throttle(mobile: str) -> OtpThrottle:
    """The number's throttle row, locked until the end of the current transaction."""
    try:
        with transaction.atomic():
            OtpThrottle.objects.get_or_create(mobile=mobile)
    except IntegrityError:  # created concurrently: fine, it exists now
        pass
    return OtpThrottle.objects.select_for_update().get(mobile=mobile)


def request_code(mobile: str, *, purpose: str = "login", request: HttpRequest | None = None) -> OtpRecord:
    """Send a new code for ``purpose`` to ``mobile``; return its record (the code is not on it).

    Runs the adapter's ``pre_send_check`` first (a captcha), then the limits:
    raises :class:`ResendTooSoon` (with ``retry_after`` seconds) within
    ``RESEND_INTERVAL`` of the number's last code, :class:`DailyLimitReached`
    past ``DAILY_LIMIT`` codes today. A new code supersedes the number's
    earlier active code for the same purpose. Raises ``HuyiRecipientError``
    for a malformed number and the send's ``HuyiApiError`` when the provider
    refuses (the attempt then does not count against the limits).
    """
    return _issue(mobile, purpose, request, deliver=True, conceal=False)


def request_code_for_account(mobile: str, *, purpose: str = "login", request: HttpRequest | None = None) -> OtpRecord:
    """Like :func:`request_code`, for sign-in and password reset: it never tells who has an account.

    Only a number the adapter's ``can_receive_code`` accepts gets an SMS; any
    other gets a record all the same, whose code is never sent. So everything
    that follows is alike for both: the answer, the limits (they count either
    way), wrong tries counting towards ``MAX_ATTEMPTS``, expiry. A send the
    provider refuses is not reported either (it is logged; the limits still
    count), and the call takes at least ``OTP["UNIFORM_RESPONSE_SECONDS"]``.
    ``record.sms_log`` is ``None`` when no SMS left. Raises the limits' and
    checks' errors as ``request_code`` does, which are the same for every number.
    """
    started = time.monotonic()
    adapter = get_adapter()
    normalized = adapter.normalize_mobile(mobile)
    deliver = adapter.can_receive_code(normalized, _check_purpose(purpose))
    record = _issue(normalized, purpose, request, deliver=deliver, conceal=True)
    remaining = float(huyi_settings.OTP["UNIFORM_RESPONSE_SECONDS"] or 0) - (time.monotonic() - started)
    if remaining > 0:
        _sleep(remaining)
    return record


# Module-level so that tests can see the padding without waiting for it.
_sleep = time.sleep


@sensitive_variables("code")
def _issue(mobile: str, purpose: str, request: HttpRequest | None, *, deliver: bool, conceal: bool) -> OtpRecord:
    """Check and count the request, record a new code, and (if ``deliver``) send it.

    With ``conceal``, a failed send is logged instead of raised, and still counts.
    """
    purpose = _check_purpose(purpose)
    adapter = get_adapter()
    mobile = adapter.normalize_mobile(mobile)
    adapter.pre_send_check(request, mobile, purpose)
    config = huyi_settings.OTP
    code = _new_code(int(config["LENGTH"]))
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        throttle = _locked_throttle(mobile)
        interval = int(config["RESEND_INTERVAL"])
        if throttle.last_sent_at is not None and now < throttle.last_sent_at + timedelta(seconds=interval):
            wait = throttle.last_sent_at + timedelta(seconds=interval) - now
            raise ResendTooSoon(max(1, int(wait.total_seconds() + 0.999)))
        sent_today = throttle.sent_today if throttle.day == today else 0
        if sent_today >= int(config["DAILY_LIMIT"]):
            tomorrow = timezone.make_aware(datetime.combine(today + timedelta(days=1), time_of_day.min))
            raise DailyLimitReached(max(1, int((tomorrow - now).total_seconds())))
        previous = (throttle.last_sent_at, throttle.day, throttle.sent_today)
        throttle.last_sent_at, throttle.day, throttle.sent_today = now, today, sent_today + 1
        throttle.save(update_fields=["last_sent_at", "day", "sent_today"])
        OtpRecord.objects.filter(mobile=mobile, purpose=purpose, status=OtpRecord.Status.ACTIVE).update(
            status=OtpRecord.Status.SUPERSEDED
        )
        salt = secrets.token_hex(16)
        record = OtpRecord.objects.create(
            mobile=mobile,
            purpose=purpose,
            salt=salt,
            code_hash=_hash(salt, mobile, purpose, code),
            expires_at=now + timedelta(seconds=int(config["TTL"])),
            ip=_client_ip(request),
        )
    if not deliver:
        logger.info("code for %s to %s recorded but not sent: the adapter refused it", purpose, mask_mobile(mobile))
        return record
    # The limits are committed before the HTTP call, so concurrent requests see them
    # at once and the lock is not held while the provider answers.
    try:
        # The row logs the message with the code starred out: a code is never stored in clear.
        log = send_sms(mobile, adapter.code_message(code, purpose), purpose=purpose, redact=[code])
    except HuyiApiError as error:
        if conceal:
            # Reporting it would tell that the number has an account (a number without one
            # never reaches the provider); the record stays, like one that was never sent.
            logger.warning("code for %s to %s not sent: %s", purpose, mask_mobile(mobile), error)
            return record
        with transaction.atomic():
            OtpRecord.objects.filter(pk=record.pk).update(status=OtpRecord.Status.FAILED)
            # A code that never left does not count against the number.
            OtpThrottle.objects.filter(mobile=mobile, last_sent_at=now).update(
                last_sent_at=previous[0], day=previous[1], sent_today=previous[2]
            )
        raise
    OtpRecord.objects.filter(pk=record.pk).update(sms_log=log)
    record.sms_log = log
    logger.info("code for %s sent to %s", purpose, mask_mobile(mobile))
    return record


@sensitive_variables("code")
def verify_code(mobile: str, code: str, *, purpose: str = "login", user: Any = None) -> OtpRecord:
    """Check ``code`` against the number's latest code for ``purpose``; use it up if right.

    Raises :class:`InvalidCode` (wrong, or no code was sent), :class:`CodeExpired`,
    :class:`TooManyAttempts` (the code is dead after ``MAX_ATTEMPTS`` wrong tries).
    Sends ``otp_verified`` on success, with ``user`` (the signed-in user verifying a
    number, when given) or else the account the number belongs to, or ``None``.
    """
    purpose = _check_purpose(purpose)
    adapter = get_adapter()
    try:
        mobile = adapter.normalize_mobile(mobile)
    except HuyiApiError:
        raise InvalidCode() from None
    code = str(code or "").strip()
    max_attempts = int(huyi_settings.OTP["MAX_ATTEMPTS"])
    error: Exception | None = None
    with transaction.atomic():
        record = (
            OtpRecord.objects.select_for_update()
            .filter(mobile=mobile, purpose=purpose)
            .exclude(status=OtpRecord.Status.FAILED)
            .order_by("-created_at", "-id")
            .first()
        )
        if record is None or record.status in (OtpRecord.Status.USED, OtpRecord.Status.SUPERSEDED):
            raise InvalidCode()
        if record.status == OtpRecord.Status.LOCKED or record.attempts >= max_attempts:
            raise TooManyAttempts()
        if timezone.now() >= record.expires_at:
            raise CodeExpired()
        if not code or not constant_time_compare(_hash(record.salt, mobile, purpose, code), record.code_hash):
            record.attempts += 1
            if record.attempts >= max_attempts:
                record.status = OtpRecord.Status.LOCKED
                error = TooManyAttempts()
            else:
                error = InvalidCode()
            record.save(update_fields=["attempts", "status"])
        else:
            record.status = OtpRecord.Status.USED
            record.used_at = timezone.now()
            record.save(update_fields=["status", "used_at"])
    # The wrong try is committed (not rolled back with the exception) before it is raised.
    if error is not None:
        raise error
    if user is None or not getattr(user, "is_authenticated", False):
        user = adapter.get_user_by_mobile(record.mobile)
    signals.otp_verified.send(sender=OtpRecord, record=record, user=user)
    return record

