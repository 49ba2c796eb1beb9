"""One-time codes: issue them (with the per-number limits) and check them.

The only module that changes ``OtpRecord`` and ``OtpThrottle`` rows, through
their verbs (``models.py``); here is the order of the steps and the transactions.

* A code comes from :mod:`secrets`, is sent as a normal ``SmsLog`` send, and is
  stored only as an HMAC keyed with ``SECRET_KEY`` (and a per-record salt), so a
  database leak does not reveal live codes. It is compared in constant time.
* Limits are decided under a row lock on the number's ``OtpThrottle`` row, so
  twenty concurrent requests for one number send one SMS, not twenty. The
  resend interval runs per purpose (a sign-in code does not hold back a reset
  code); the daily limit counts every purpose. The site-wide caps
  (``site_limits.py``) count in the same transaction.
* Few statements (``tests/test_otp_statements.py`` holds the budget): a
  request is one transaction before the provider is called (the throttle's
  one upsert that checks and counts, the number's live codes, the SMS row, the
  record pointing at it) and the answer's UPDATE; a verification is one
  locked SELECT and one UPDATE. The account for ``otp_verified`` is looked up
  only when somebody listens to it.
* A new code replaces the number's earlier one only once it has left
  (submitted, or unknown): a send that is refused or reaches nobody takes
  nothing away from the person. Until then both codes are live.
* Verification locks the live codes' rows: two concurrent correct
  verifications succeed once; each wrong try is counted against every live
  code, and ``MAX_ATTEMPTS`` kill a code.
* When the queue runs in the background (``tasks.runs_in_background()``: a
  worker process, not Django's immediate backend), a request only checks the
  limits and commits the record; a worker makes the code, stores its hash and
  sends it (:func:`send_code`). So the code never travels through a broker,
  and sign-in and reset answer in the same short time for every number: the
  account lookup happens in the worker too.
* A send whose outcome is unknown (the request left, no answer came) may have
  put the code on the phone: the record stays verifiable and the request
  counts against the limits.
* A code goes by SMS or, with ``channel="voice"``, is spoken in a call (the
  voice product, whose content is the digits). Both channels share the
  number's limits. A voice code asked for while the number's latest code for
  the purpose is a live SMS one is its fallback: it waits for
  ``OTP["VOICE_FALLBACK_AFTER"]`` seconds after that code (not for
  ``RESEND_INTERVAL``), or for its receipt to say undelivered (not heeded by
  sign-in and reset, where it would tell who has an account).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from . import purposes, signals, site_limits, statements, tasks
from .adapter import get_adapter
from .backends import OutgoingSms
from .client_address import client_ip
from .conf import huyi_settings
from .exceptions import (
    HuyiApiError,
    HuyiTransportError,
    InvalidCode,
    ResendTooSoon,
    TooManyAttempts,
    VoiceTooSoon,
)
from .models import OtpRecord, OtpThrottle, SmsLog
from .privacy import private
from .provider import mask_mobile
from .sending import deliver as deliver_sms
from .sending import prepare_send, record_send

__all__ = [
    "SMS",
    "VOICE",
    "CHANNELS",
    "request_code",
    "request_code_for_account",
    "seconds_until_allowed",
    "send_code",
    "verify_code",
    "voice_fallback_in",
]

logger = logging.getLogger("django_huyi_sms.otp")

_HMAC_SALT = "django_huyi_sms.otp"

#: How many of a number's codes for one purpose a typed code is compared with: the latest, and
#: the one before it while the latest is on its way (or if it never arrived).
MAX_LIVE_CODES = 2

#: The ways a code reaches the phone: texted, or spoken in a call of the voice product.
SMS, VOICE = OtpRecord.Channel.SMS.value, OtpRecord.Channel.VOICE.value
CHANNELS = (SMS, VOICE)


def _hash(record_salt: str, mobile: str, purpose: str, code: str) -> str:
    return salted_hmac(_HMAC_SALT, f"{record_salt}:{mobile}:{purpose}:{code}", algorithm="sha256").hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(huyi_settings.OTP["LENGTH"]))


def _check_purpose(purpose: str) -> str:
    purpose = str(purpose or "").strip()
    if not purpose or len(purpose) > purposes.MAX_LENGTH:
        raise ValueError(f"purpose must be a label of 1 to {purposes.MAX_LENGTH} characters")
    return purpose


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    return channel


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request) or None


@private
def request_code(
    mobile: str, *, purpose: str = "login", channel: str = SMS, request: HttpRequest | None = None
) -> OtpRecord:
    """Send a new code for ``purpose`` to ``mobile``; return its record (the code is not on it).

    ``channel="voice"`` speaks the code in a call (the voice product) instead
    of texting it; ``record.channel`` says which.

    Runs the adapter's ``pre_send_check`` first (a captcha), then the limits:
    raises :class:`ResendTooSoon` (with ``retry_after`` seconds) within
    ``RESEND_INTERVAL`` of the number's last code for ``purpose``
    (:func:`seconds_until_allowed` tells it without asking), :class:`DailyLimitReached`
    past ``DAILY_LIMIT`` codes today, every purpose, SMS and voice together,
    :class:`SiteLimitReached` once the whole site has had ``SITE_HOURLY_LIMIT``
    codes this hour or ``SITE_DAILY_LIMIT`` today (``site_limits.py``). A voice
    code that follows a live SMS code for the purpose waits for its fallback
    rule instead of ``RESEND_INTERVAL`` (:func:`voice_fallback_in`), and raises
    :class:`VoiceTooSoon` before; ``ValueError`` for an unknown channel. A new
    code supersedes the number's earlier code for the same purpose once it has
    left; until then, and for good if its send fails, the earlier code still
    works. Raises ``HuyiRecipientError`` for a malformed number, the
    provider's error for a message it would refuse (checked before anything
    is written or counted), and the send's
    ``HuyiApiError`` when the provider refuses or nothing reached it (the
    attempt then does not count against the limits). A send whose outcome is
    unknown is not raised: the code may be on the phone, so it stays
    verifiable, and it counts.

    When the queue runs in the background the record is committed and a
    worker makes and sends the code: nothing about the send is raised here,
    and a refused send marks the record ``failed`` (still counted).
    """
    return _issue(mobile, purpose, request, channel=channel, deliver=True, conceal=False)


@private
def request_code_for_account(
    mobile: str, *, purpose: str = "login", channel: str = SMS, request: HttpRequest | None = None
) -> OtpRecord:
    """Like :func:`request_code`, for sign-in and password reset: it never tells who has an account.

    Only a number the adapter's ``can_receive_code`` accepts gets an SMS (or a
    call); any other gets a record all the same, whose code is never sent. A
    voice fallback waits for ``VOICE_FALLBACK_AFTER`` alone, never for a
    receipt, which only a number with an account can have. So everything
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
    channel = _check_channel(channel)
    if tasks.runs_in_background():
        return _issue(normalized, purpose, request, channel=channel, deliver=None, conceal=True)
    deliver = adapter.can_receive_code(normalized, purpose)
    record = _issue(normalized, purpose, request, channel=channel, deliver=deliver, conceal=True)
    remaining = huyi_settings.OTP["UNIFORM_RESPONSE_SECONDS"] - (time.monotonic() - started)
    if remaining > 0:
        _sleep(remaining)
    return record


# Module-level so that tests can see the padding without waiting for it.
_sleep = time.sleep


@private
def _issue(
    mobile: str,
    purpose: str,
    request: HttpRequest | None,
    *,
    channel: str,
    deliver: bool | None,
    conceal: bool,
) -> OtpRecord:
    """Check and count the request, record a new code and its SMS row, and (if ``deliver``) send it.

    ``deliver=None``: ask the adapter's ``can_receive_code`` (in the worker, when
    the queue runs in the background). With ``conceal``, a failed send is
    logged instead of raised, and still counts, and receipts do not hasten a
    voice fallback.

    One transaction, committed before the provider is called: the throttle's
    upsert (checks and counts), the site-wide count, the number's live codes,
    the SMS row and the code's record, which points at the row from its INSERT.
    """
    purpose = _check_purpose(purpose)
    channel = _check_channel(channel)
    adapter = get_adapter()
    mobile = adapter.normalize_mobile(mobile)
    adapter.pre_send_check(request, mobile, purpose)
    background = tasks.runs_in_background()
    # In the background the worker makes the code (send_code): none exists here.
    code = "" if background else _new_code()
    # Checked before anything is written: a message the provider would refuse counts nothing.
    message = _code_message(mobile, purpose, channel, code, conceal=conceal) if deliver and not background else None
    now = timezone.now()
    with site_limits.reporting_trips(), transaction.atomic():
        resend_interval = True
        if channel == VOICE and huyi_settings.OTP["VOICE_FALLBACK_AFTER"] is not None:
            # Under the number's lock: of two voice fallbacks asked for at once, the second finds
            # the first's voice code the latest, and waits RESEND_INTERVAL after it.
            OtpThrottle.lock(mobile)
            fallback_wait = _voice_fallback_wait(mobile, purpose, now, receipts=not conceal)
            if fallback_wait:
                raise VoiceTooSoon(fallback_wait)
            resend_interval = fallback_wait is None
        throttle = OtpThrottle.take(mobile, purpose, now, resend_interval=resend_interval)
        # After the number's own limits (a number refused for those takes nothing from the
        # site), and for every number alike, whether or not it gets an SMS.
        site_counted = site_limits.count(now)
        replaces = OtpRecord.supersede_unmade(mobile, purpose)
        log = record_send(message, purpose=purpose, redact=[code]) if message is not None else None
        record = _new_record(mobile, purpose, channel, code, now, _client_ip(request), log)
        if background:
            tasks.dispatch_code_on_commit(record.pk, check_account=deliver is None)
    if background:
        return record
    # The limits are committed before the HTTP call, so concurrent requests see them
    # at once and the lock is not held while the provider answers.
    try:
        return _deliver(record, message, deliver=bool(deliver), replaces=replaces, conceal=conceal)
    except HuyiApiError:
        # Refused, or it reached nobody: it counts against neither the number nor the site.
        throttle.give_back(purpose)
        site_limits.give_back(site_counted)
        raise


def _code_message(mobile: str, purpose: str, channel: str, code: str, *, conceal: bool) -> OutgoingSms | None:
    """The message that carries ``code``, checked as the provider would check it.

    Raises the provider's error for a message it would refuse (a template that is not
    approved, say), before anything is written; with ``conceal`` that is logged instead,
    and ``None`` returned: the code is recorded but never sent, as for a number the adapter
    refuses, so that the answer does not tell that the number has an account.
    """
    adapter = get_adapter()
    templateid = huyi_settings.OTP["TEMPLATE_ID"]
    try:
        if channel == VOICE:
            # The voice product's content is the digits it speaks (ihuyi-api.md): no text around them.
            return prepare_send(mobile, code, None, (), "voice")
        if templateid is None:
            return prepare_send(mobile, adapter.code_message(code, purpose), None, (), "sms")
        return prepare_send(mobile, "", templateid, adapter.code_variables(code, purpose), "sms")
    except HuyiApiError as error:
        if not conceal:
            raise
        logger.warning("code for %s to %s not sent: %s", purpose, mask_mobile(mobile), error)
        return None


@private
def _new_record(
    mobile: str, purpose: str, channel: str, code: str, now: datetime, ip: str | None, log: SmsLog | None
) -> OtpRecord:
    """Record a new code by its hash (none yet when ``code`` is empty: a worker makes it), with its SMS row ``log``.

    It replaces no earlier code that may be on the phone: :func:`_send` does that once it has left.
    """
    salt = secrets.token_hex(16)
    values = {
        "mobile": mobile,
        "purpose": purpose,
        "channel": channel,
        "code_hash": _hash(salt, mobile, purpose, code) if code else "",
        "salt": salt,
        "status": OtpRecord.Status.ACTIVE.value,
        "attempts": 0,
        # Now, under the number's lock, not when the request came: the number's codes are
        # ordered by it, and a request that waited for the lock recorded its code later.
        "created_at": timezone.now(),
        "expires_at": now + timedelta(seconds=huyi_settings.OTP["TTL"]),
        "used_at": None,
        "ip": ip,
        "sms_log_id": log.pk if log is not None else None,
    }
    record = statements.insert_row(values, model=OtpRecord)
    record.sms_log = log  # known: reading it must not query
    return record


@private
def _deliver(
    record: OtpRecord, message: OutgoingSms | None, *, deliver: bool, replaces: bool, conceal: bool
) -> OtpRecord:
    """Send ``record``'s ``message``, or with ``deliver`` false keep it unsent: a code nobody has.

    An unsent code replaces the earlier one at once, as a sent one does when it
    leaves, so that nothing after tells a number that gets no SMS from one that does.
    ``replaces``: the number had live codes for the purpose when this one was
    recorded (``OtpRecord.supersede_unmade``); without any, nothing is taken over.
    """
    if message is not None:
        return _send(record, message, replaces=replaces, conceal=conceal)
    if not deliver:
        mobile, purpose = mask_mobile(record.mobile), record.purpose
        logger.info("code for %s to %s recorded but not sent: the adapter refused it", purpose, mobile)
        if replaces:
            record.replace_earlier()
    elif replaces:
        record.replace_earlier_unsent()  # a message the provider would refuse, not told (_code_message)
    return record


@private
def _send(record: OtpRecord, message: OutgoingSms, *, replaces: bool, conceal: bool) -> OtpRecord:
    """Send ``record``'s code (its SMS row is ``record.sms_log``); once it has left, it replaces the earlier one.

    Left: submitted, or unknown (no answer came: it may be on the phone). A send
    that was refused or reached nobody replaces nothing, and the earlier code
    stays the one to type. Its error is raised and the record marked failed;
    with ``conceal`` it is logged instead, and the record stays live.
    """
    mobile, purpose = record.mobile, record.purpose
    assert record.sms_log is not None
    try:
        deliver_sms(record.sms_log, message)
    except HuyiApiError as error:
        if isinstance(error, HuyiTransportError) and error.may_have_been_sent:
            logger.warning(
                "code for %s to %s: outcome unknown (%s); it stays valid", purpose, mask_mobile(mobile), error
            )
            if replaces:
                record.replace_earlier()
        elif conceal:
            # Reporting it would tell that the number has an account (a number without one
            # never reaches the provider). The record stays live, a code nobody has, and
            # replaces nothing: the answers that follow speak of it, as of a decoy.
            logger.warning("code for %s to %s not sent: %s", purpose, mask_mobile(mobile), error)
            if replaces:
                record.replace_earlier_unsent()
        else:
            record.fail(record.sms_log)
            raise
    else:
        logger.info("code for %s sent to %s", purpose, mask_mobile(mobile))
        if replaces:
            record.replace_earlier()
    return record


@private
def send_code(record_pk: int, *, check_account: bool = False) -> OtpRecord | None:
    """Make, record and send the code of a record :func:`request_code` committed: a queued code's task.

    Runs once per record however often the task is delivered: the code's hash
    is stored by a conditional UPDATE first (with the SMS row, in one
    transaction), and only the call that stored it sends. A record superseded
    or killed while queued is not sent. With ``check_account`` (sign-in, reset)
    a number the adapter's ``can_receive_code`` refuses gets no SMS, its record
    a hash all the same. The earlier code stays valid until this one has left;
    a refused send marks the record ``failed`` and the request still counts
    (nobody can be told). Returns the record, or ``None`` when there was
    nothing (left) to do.
    """
    record = OtpRecord.objects.filter(pk=record_pk, code_hash="", status=OtpRecord.Status.ACTIVE).first()
    if record is None:
        return None
    code = _new_code()
    code_hash = _hash(record.salt, record.mobile, record.purpose, code)
    if timezone.now() >= record.expires_at:
        # Expired while queued: nobody needs it any more. Made all the same, so it is never sent.
        return record if record.claim(code_hash) else None
    deliver = not check_account or get_adapter().can_receive_code(record.mobile, record.purpose)
    message = None
    if deliver:
        try:
            message = _code_message(record.mobile, record.purpose, record.channel, code, conceal=check_account)
        except HuyiApiError:
            # Nobody is waiting for the exception: the code is made, and never left.
            if record.claim(code_hash):
                record.fail(None)
                return record
            return None
    with transaction.atomic():
        log = record_send(message, purpose=record.purpose, redact=[code]) if message is not None else None
        if not record.claim(code_hash, log):
            transaction.set_rollback(True)  # and with it the SMS row: another delivery sends
            return None  # another delivery of this task made it, or the record died meanwhile
    try:
        # A worker's code may have been asked for while others were live: look, as replace_earlier does.
        return _deliver(record, message, deliver=deliver, replaces=True, conceal=check_account)
    except HuyiApiError:
        return record  # marked failed by _send; nobody is waiting for the exception


@private
def verify_code(mobile: str, code: str, *, purpose: str = "login", user: Any = None) -> OtpRecord:
    """Check ``code`` against the number's codes for ``purpose`` that may be on the phone; use it up if right.

    Those are its latest code and, while that one is on its way or if it never
    arrived, the earlier one. Raises :class:`InvalidCode` (wrong, or no code
    was sent), :class:`CodeExpired`, :class:`TooManyAttempts` (the code is dead
    after ``MAX_ATTEMPTS`` wrong tries), each about the latest code. Sends
    ``otp_verified`` on success, with ``user`` (the signed-in user verifying a
    number, when given) or else the account the number belongs to, or ``None``.
    """
    purpose = _check_purpose(purpose)
    adapter = get_adapter()
    try:
        mobile = adapter.normalize_mobile(mobile)
    except HuyiApiError:
        raise InvalidCode() from None
    code = str(code or "").strip()
    now = timezone.now()
    error: Exception | None = None
    with transaction.atomic():
        records = OtpRecord.latest_and_live(mobile, purpose, now)
        if not records:
            raise InvalidCode()
        latest = records[0]
        latest.check_try(now)
        live = [each for each in records if each.status == OtpRecord.Status.ACTIVE and each.expires_at > now]
        # The latest code and the one before it (while the latest is on its way, or never
        # arrived): never more, so a guess has at most twice a single code's chance.
        record = _matching(live[:MAX_LIVE_CODES], code)
        if record is not None:
            record.use(now)
        else:
            for each in live:
                each.count_wrong_try()
            # The answer speaks of the latest code: live[0], unless a concurrent try just used or killed it.
            error = TooManyAttempts() if live and live[0].status == OtpRecord.Status.LOCKED else InvalidCode()
    # The wrong try is committed (not rolled back with the exception) before it is raised.
    if error is not None or record is None:
        raise error or InvalidCode()
    # The account is looked up only for somebody who listens: a query per code otherwise.
    if signals.otp_verified.has_listeners(OtpRecord):
        if user is None or not getattr(user, "is_authenticated", False):
            user = adapter.get_user_by_mobile(record.mobile)
        signals.otp_verified.send(sender=OtpRecord, record=record, user=user)
    return record


@private
def voice_fallback_in(mobile: str, purpose: str = "login", *, receipts: bool = True) -> int | None:
    """Seconds until a voice call may stand in for ``mobile``'s SMS code for ``purpose``: 0 now, ``None`` never.

    ``None`` when ``OTP["VOICE_FALLBACK_AFTER"]`` is ``None`` (no voice offer)
    or the number's latest code for the purpose is not a live SMS code (none
    asked for, already used, expired, or itself a voice code). Otherwise the
    seconds left of ``VOICE_FALLBACK_AFTER`` since that code was asked for, or
    0 once its receipt says undelivered when ``receipts`` are heeded (sign-in
    and reset pass ``False``: see ``OtpRecord.voice_fallback_wait``). For the
    pages and the API, which show the offer; :func:`request_code` enforces the
    same rule under the number's lock. A malformed number has none.
    """
    if huyi_settings.OTP["VOICE_FALLBACK_AFTER"] is None:
        return None
    try:
        mobile = get_adapter().normalize_mobile(mobile)
    except HuyiApiError:
        return None
    return _voice_fallback_wait(mobile, _check_purpose(purpose), timezone.now(), receipts=receipts)


def _voice_fallback_wait(mobile: str, purpose: str, now: datetime, *, receipts: bool) -> int | None:
    """``voice_fallback_in`` for a normalised number, at ``now``."""
    after = huyi_settings.OTP["VOICE_FALLBACK_AFTER"]
    if after is None:
        return None  # no fallback rule: a voice code is asked for as any code is
    latest = _latest_record(mobile, purpose)
    return None if latest is None else latest.voice_fallback_wait(now, after, receipts=receipts)


def _latest_record(mobile: str, purpose: str) -> OtpRecord | None:
    """The number's latest code for ``purpose``, leaving out failed sends: the one the person asked for last.

    Not locked: for the voice fallback, asked under the number's throttle lock.
    """
    return (
        OtpRecord.objects.filter(mobile=mobile, purpose=purpose)
        .exclude(status=OtpRecord.Status.FAILED)
        .order_by("-created_at", "-id")
        .first()
    )


@private
def _matching(records: list[OtpRecord], code: str) -> OtpRecord | None:
    """The newest of ``records`` whose code ``code`` is, or ``None``.

    Every record is compared, in constant time, so the answer's timing tells
    neither which one matched nor whether one did.
    """
    matched = None
    for record in records:
        # Compared all, even after a match, so that the time taken is the same.
        if constant_time_compare(_hash(record.salt, record.mobile, record.purpose, code), record.code_hash):
            matched = matched or record
    return matched if code else None


def seconds_until_allowed(mobile: str, purpose: str = "login", *, daily: bool = True) -> int:
    """Seconds until ``mobile`` may be sent a code for ``purpose`` as far as its own limits go: 0 now.

    The resend interval for the purpose (``RESEND_INTERVAL`` since its last
    counted code for ``purpose``), or the daily limit (until midnight, once
    ``DAILY_LIMIT`` codes of any purpose were counted today), whichever is
    longer to wait: what :class:`ResendTooSoon` or :class:`DailyLimitReached`
    would say as ``retry_after``. For the pages, to keep a countdown after a
    wrong code; nothing is sent or counted, and it takes no lock, so a request
    made at 0 can still be refused by another one made meanwhile, by the
    site-wide cap or a voice fallback's own wait (:func:`voice_fallback_in`).
    One SELECT; a malformed number answers 0 (a request would say what is
    wrong with it). Raises ``ValueError`` for an empty or over-long purpose.
    ``daily=False``: the purpose's resend wait only (what the pages count down;
    the day's limit says "today" when a code is asked for, not seconds).
    """
    purpose = _check_purpose(purpose)
    try:
        mobile = get_adapter().normalize_mobile(mobile)
    except HuyiApiError:
        return 0
    throttle = OtpThrottle.objects.filter(mobile=mobile).first()
    if throttle is None:
        return 0
    now = timezone.now()
    if not daily:
        refusal = throttle.refusal(now, purpose)
        return refusal.retry_after if isinstance(refusal, ResendTooSoon) else 0
    waits = [throttle.refusal(now, purpose), throttle.refusal(now, purpose, resend_interval=False)]
    return max((refusal.retry_after for refusal in waits if refusal is not None), default=0)
