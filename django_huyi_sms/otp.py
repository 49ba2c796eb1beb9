"""One-time codes: issue them (with the per-number limits) and check them.

The only module that writes ``OtpRecord`` and ``OtpThrottle`` rows.

* A code comes from :mod:`secrets`, is sent as a normal ``SmsLog`` send, and is
  stored only as an HMAC keyed with ``SECRET_KEY`` (and a per-record salt), so a
  database leak does not reveal live codes. It is compared in constant time.
* Limits are decided under a row lock on the number's ``OtpThrottle`` row, so
  twenty concurrent requests for one number send one SMS, not twenty.
* Verification locks the code's row: two concurrent correct verifications
  succeed once; each wrong try is counted, and ``MAX_ATTEMPTS`` kill the code.
* When the queue runs in the background (``tasks.runs_in_background()``: a
  worker process, not Django's immediate backend), a request only checks the
  limits and commits the record; a worker makes the code, stores its hash and
  sends it (:func:`send_code`). So the code never travels through a broker,
  and sign-in and reset answer in the same short time for every number: the
  account lookup happens in the worker too.
* A send whose outcome is unknown (the request left, no answer came) may have
  put the code on the phone: the record stays verifiable and the request
  counts against the limits.
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

from . import purposes, signals, tasks
from .adapter import get_adapter
from .client_address import client_ip
from .provider import mask_mobile
from .conf import huyi_settings
from .exceptions import (
    CodeExpired,
    DailyLimitReached,
    HuyiApiError,
    HuyiTransportError,
    InvalidCode,
    ResendTooSoon,
    TooManyAttempts,
)
from .models import OtpRecord, OtpThrottle
from .sending import send_sms

__all__ = ["PURPOSES", "request_code", "request_code_for_account", "send_code", "verify_code"]

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
    return client_ip(request) or None


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
    refuses or nothing reached it (the attempt then does not count against
    the limits). A send whose outcome is unknown is not raised: the code may be
    on the phone, so it stays verifiable, and it counts.

    When the queue runs in the background the record is committed and a
    worker makes and sends the code: nothing about the send is raised here,
    and a refused send marks the record ``failed`` (still counted).
    """
    return _issue(mobile, purpose, request, deliver=True, conceal=False)


def request_code_for_account(mobile: str, *, purpose: str = "login", request: HttpRequest | None = None) -> OtpRecord:
    """Like :func:`request_code`, for sign-in and password reset: it never tells who has an account.

    Only a number the adapter's ``can_receive_code`` accepts gets an SMS; any
    other gets a record all the same, whose code is never sent. So everything
    that follows is alike for both: the answer, the limits (they count either
    way), wrong tries counting towards ``MAX_ATTEMPTS``, expiry. A send the
    provider refuses is not reported either (it is logged; the limits still
    count). ``record.sms_log`` is ``None`` when no SMS left. Raises the limits'
    and checks' errors as ``request_code`` does, which are the same for every number.

    When the queue runs in the background, the account is looked up by the
    worker, so this call does the same work for every number and returns at
    once. Otherwise it sends here, and takes at least
    ``OTP["UNIFORM_RESPONSE_SECONDS"]`` so that its duration does not tell.
    """
    started = time.monotonic()
    adapter = get_adapter()
    normalized = adapter.normalize_mobile(mobile)
    purpose = _check_purpose(purpose)
    if tasks.runs_in_background():
        return _issue(normalized, purpose, request, deliver=None, conceal=True)
    deliver = adapter.can_receive_code(normalized, purpose)
    record = _issue(normalized, purpose, request, deliver=deliver, conceal=True)
    remaining = huyi_settings.OTP["UNIFORM_RESPONSE_SECONDS"] - (time.monotonic() - started)
    if remaining > 0:
        _sleep(remaining)
    return record


# Module-level so that tests can see the padding without waiting for it.
_sleep = time.sleep


@sensitive_variables("code")
def _issue(mobile: str, purpose: str, request: HttpRequest | None, *, deliver: bool | None, conceal: bool) -> OtpRecord:
    """Check and count the request, record a new code, and (if ``deliver``) send it.

    ``deliver=None``: ask the adapter's ``can_receive_code`` (in the worker, when
    the queue runs in the background). With ``conceal``, a failed send is
    logged instead of raised, and still counts.
    """
    purpose = _check_purpose(purpose)
    adapter = get_adapter()
    mobile = adapter.normalize_mobile(mobile)
    adapter.pre_send_check(request, mobile, purpose)
    config = huyi_settings.OTP
    background = tasks.runs_in_background()
    # In the background the worker makes the code (send_code): none exists here.
    code = "" if background else _new_code(config["LENGTH"])
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        throttle = _locked_throttle(mobile)
        interval = config["RESEND_INTERVAL"]
        if throttle.last_sent_at is not None and now < throttle.last_sent_at + timedelta(seconds=interval):
            wait = throttle.last_sent_at + timedelta(seconds=interval) - now
            raise ResendTooSoon(max(1, int(wait.total_seconds() + 0.999)))
        sent_today = throttle.sent_today if throttle.day == today else 0
        if sent_today >= config["DAILY_LIMIT"]:
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
            code_hash=_hash(salt, mobile, purpose, code) if code else "",
            expires_at=now + timedelta(seconds=config["TTL"]),
            ip=_client_ip(request),
        )
        if background:
            tasks.dispatch_code_on_commit(record.pk, check_account=deliver is None)
    if background:
        return record
    if not deliver:
        logger.info("code for %s to %s recorded but not sent: the adapter refused it", purpose, mask_mobile(mobile))
        return record
    # The limits are committed before the HTTP call, so concurrent requests see them
    # at once and the lock is not held while the provider answers.
    try:
        return _send(record, code, conceal=conceal)
    except HuyiApiError:
        with transaction.atomic():
            # A code that never left does not count against the number.
            OtpThrottle.objects.filter(mobile=mobile, last_sent_at=now).update(
                last_sent_at=previous[0], day=previous[1], sent_today=previous[2]
            )
        raise


@sensitive_variables("code")
def _send(record: OtpRecord, code: str, *, conceal: bool) -> OtpRecord:
    """Send ``record``'s ``code``; link the SMS row. Raises the send's error unless ``conceal``
    (then it is logged) or the outcome is unknown (the code may be on the phone: it stays live)."""
    adapter = get_adapter()
    mobile, purpose = record.mobile, record.purpose
    try:
        # The row logs the message with the code starred out: a code is never stored in clear.
        log = send_sms(mobile, adapter.code_message(code, purpose), purpose=purpose, redact=[code])
    except HuyiApiError as error:
        log = error.log
        if isinstance(error, HuyiTransportError) and error.may_have_been_sent:
            logger.warning("code for %s to %s: outcome unknown (%s); it stays valid", purpose, mask_mobile(mobile), error)
        elif conceal:
            # Reporting it would tell that the number has an account (a number without one
            # never reaches the provider); the record stays, like one that was never sent.
            logger.warning("code for %s to %s not sent: %s", purpose, mask_mobile(mobile), error)
        else:
            OtpRecord.objects.filter(pk=record.pk).update(status=OtpRecord.Status.FAILED, sms_log=log)
            record.status, record.sms_log = OtpRecord.Status.FAILED, log
            raise
    else:
        logger.info("code for %s sent to %s", purpose, mask_mobile(mobile))
    if log is not None:
        OtpRecord.objects.filter(pk=record.pk).update(sms_log=log)
        record.sms_log = log
    return record


@sensitive_variables("code")
def send_code(record_pk: int, *, check_account: bool = False) -> OtpRecord | None:
    """Make, record and send the code of a record :func:`request_code` committed: a queued code's task.

    Runs once per record however often the task is delivered: the code's hash
    is stored by a conditional UPDATE first, and only the call that stored it
    sends. With ``check_account`` (sign-in, reset) a number the adapter's
    ``can_receive_code`` refuses gets no SMS, its record a hash all the same.
    A refused send marks the record ``failed``; the request still counts.
    Returns the record, or ``None`` when there was nothing (left) to do.
    """
    record = OtpRecord.objects.filter(pk=record_pk, code_hash="").first()
    if record is None:
        return None
    code = _new_code(huyi_settings.OTP["LENGTH"])
    code_hash = _hash(record.salt, record.mobile, record.purpose, code)
    if not OtpRecord.objects.filter(pk=record.pk, code_hash="").update(code_hash=code_hash):
        return None  # another delivery of this task made it
    record.code_hash = code_hash
    if record.status != OtpRecord.Status.ACTIVE or timezone.now() >= record.expires_at:
        return record  # superseded or expired while queued: nobody needs it any more
    if check_account and not get_adapter().can_receive_code(record.mobile, record.purpose):
        logger.info("code for %s to %s recorded but not sent: the adapter refused it", record.purpose, mask_mobile(record.mobile))
        return record
    try:
        return _send(record, code, conceal=check_account)
    except HuyiApiError:
        return record  # recorded as failed by _send; nobody is waiting for the exception


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
    max_attempts = huyi_settings.OTP["MAX_ATTEMPTS"]
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

