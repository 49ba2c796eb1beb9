"""What became of a send: the answers of the provider recorded on ``SmsLog`` rows.

``sending.py`` (one message, or a worker's chunk) and ``bulk.py`` (a batch of many numbers
in one Submit) both hand messages to the backend; what came back is recorded here, the
same way for both, keeping ``sending.py``'s promises:

* the provider's answer decides ``submitted`` or ``failed``; a request that left with no
  valid answer is ``unknown``, never ``failed`` (:func:`record_error`);
* a status only moves forward: every write is one conditional UPDATE on the statuses an
  answer may still be recorded on (:data:`ANSWERABLE`);
* a receipt that came before the answer is applied once the answer is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from . import optouts, receipts, signals, statements, validation
from .backends import BaseSmsBackend, OutgoingSms, get_backend
from .conf import huyi_settings
from .exceptions import (
    BLACKLIST_CODES,
    HuyiApiError,
    HuyiConfigurationError,
    HuyiConnectionError,
    HuyiTransportError,
    ResultCode,
)
from .models import OptOut, SmsLog
from .provider import SubmitResult, mask_mobile

__all__ = [
    "ANSWERABLE",
    "send_one",
    "record_error",
    "record_submitted",
    "record_submitted_together",
    "record_failure",
    "record_unknown",
    "reason",
    "retry_delay",
    "release",
]

# Same logger as before the split: sites filter on it.
logger = logging.getLogger("django_huyi_sms.sending")

Status = SmsLog.Status

#: The statuses an answer from the provider may still be recorded on: a queued row, or one
#: marked unknown (by huyi_requeue, say) before the answer came: the answer is the truth.
ANSWERABLE = (Status.QUEUED, Status.UNKNOWN)


def send_one(message: OutgoingSms, backend: BaseSmsBackend | None = None) -> SubmitResult:
    """``backend.send(message)``, with settings ``manage.py check`` reports as wrong raised as what they
    are: a ``HuyiConfigurationError`` found before anything left (failed, not unknown)."""
    try:
        return (backend or get_backend()).send(message)
    except ImproperlyConfigured as error:
        raise HuyiConfigurationError(None, detail=str(error)) from error


def record_error(log: SmsLog, error: HuyiApiError, *, blacklist: bool = True) -> None:
    """Record ``error`` on ``log``: unknown if it may have been sent, failed otherwise.

    ``blacklist=False``: a blacklist code does not put ``log``'s number on the opt-out
    list, because the refusal was of a request with several numbers (bulk.py) and
    does not say which one the provider meant.
    """
    if isinstance(error, HuyiTransportError) and error.may_have_been_sent:
        record_unknown(log, reason(error))
    else:
        record_failure(log, error, blacklist=blacklist)


def reason(error: HuyiApiError) -> str:
    """What the row says of a failure: the provider's text for a refusal, what went wrong otherwise."""
    if isinstance(error, HuyiTransportError):
        text = error.detail or str(error)
    else:
        text = error.msg or error.detail or str(error)
    return validation.printable(text)[:255]


def _write(log: SmsLog, changes: dict[str, Any], *, statuses: Iterable[str] = ANSWERABLE) -> tuple[bool, bool]:
    """Record ``changes`` on ``log`` if its status is one of ``statuses``; mirror them on the instance.

    Returns ``(written, receipt_waiting)``. The hot path is one conditional
    UPDATE that matches only a row no receipt is waiting for; a waiting receipt
    (rare: it came before this answer was recorded) takes a second UPDATE,
    and the caller then applies it.
    """
    statuses = tuple(statuses)
    if statements.update_row(log.pk, changes, statuses=statuses, receipt_waiting=False):
        waiting = False
    elif statements.update_row(log.pk, {**changes, "receipt_waiting": False}, statuses=statuses, receipt_waiting=None):
        waiting = True
    else:
        log.refresh_from_db()  # another writer got there first; it stays as they left it
        return False, False
    for field, value in changes.items():
        setattr(log, field, value)
    log.receipt_waiting = False
    return True, waiting


def record_submitted(log: SmsLog, result: SubmitResult) -> None:
    now = timezone.now()
    changes = {
        "status": Status.SUBMITTED,
        "smsid": result.smsid,
        "provider_code": result.code,
        "provider_msg": result.msg[:255],
        "submitted_at": now,
        "updated_at": now,
    }
    written, waiting = _write(log, changes)
    logger.info("SMS %s to %s submitted, smsid %s", log.pk, mask_mobile(log.mobile), result.smsid)
    if not written:
        return
    # sms_sent first: a receipt that came early must not announce delivery of a send
    # not yet announced as sent. The matching runs even if a receiver raises.
    try:
        signals.sms_sent.send(sender=SmsLog, log=log)
    finally:
        if waiting:
            receipts.match_pending_receipts(log)
        elif transaction.get_connection().in_atomic_block:
            # Inside the caller's transaction the row itself may not be visible to others yet,
            # so a receipt could neither find nor mark it: look once it is committed.
            transaction.on_commit(lambda: receipts.match_pending_receipts(log))


def record_failure(log: SmsLog, error: HuyiApiError, *, blacklist: bool = True) -> None:
    now = timezone.now()
    changes = {
        "status": Status.FAILED,
        "provider_code": error.code,
        "provider_msg": reason(error),
        "updated_at": now,
    }
    written, _waiting = _write(log, changes)  # a failed send has no receipt: one waiting is another's
    if blacklist and error.code in BLACKLIST_CODES:
        optouts.opt_out(log.mobile, OptOut.Reason.BLACKLISTED)
    logger.warning("SMS %s to %s failed: %s", log.pk, mask_mobile(log.mobile), error)
    if written:
        signals.sms_failed.send(sender=SmsLog, log=log, error=error)


def record_unknown(log: SmsLog, reason: str, *, statuses: Iterable[str] = (Status.QUEUED,)) -> bool:
    """Mark ``log`` unknown: the request may have reached the provider. Sends ``sms_status_changed``."""
    old_status = log.status
    changes = {"status": Status.UNKNOWN, "provider_msg": reason[:255], "updated_at": timezone.now()}
    written, waiting = _write(log, changes, statuses=statuses)
    logger.warning(
        "SMS %s to %s: outcome unknown (%s); it will not be sent again", log.pk, mask_mobile(log.mobile), reason
    )
    if not written:
        return False
    try:
        signals.sms_status_changed.send(
            sender=SmsLog, log=log, old_status=old_status, new_status=Status.UNKNOWN, receipt=None
        )
    finally:
        if waiting:
            receipts.match_unknown(log.mobile)
    return True


def record_submitted_together(accepted: list[tuple[SmsLog, SubmitResult]]) -> None:
    """Record a worker chunk's acceptances in one UPDATE (one commit for the chunk, not one a row).

    Rows the UPDATE did not take (a receipt waits for them, someone else moved
    them) are recorded one by one, which applies waiting receipts.
    """
    if not accepted:
        return
    now = timezone.now()
    rows = [(log.pk, result.smsid, result.msg[:255]) for log, result in accepted]
    written = statements.update_submitted(rows, code=ResultCode.ACCEPTED, now=now, statuses=ANSWERABLE)
    taken = {log.pk for log, _result in accepted}
    if written != len(accepted):
        stored = dict(SmsLog.objects.filter(pk__in=taken).values_list("pk", "smsid"))
        taken = {log.pk for log, result in accepted if stored.get(log.pk) == result.smsid}
    for log, result in accepted:
        if log.pk not in taken:
            record_submitted(log, result)
            continue
        log.status, log.smsid = Status.SUBMITTED, result.smsid
        log.provider_code, log.provider_msg = ResultCode.ACCEPTED, result.msg[:255]
        log.submitted_at = log.updated_at = now
        logger.info("SMS %s to %s submitted, smsid %s", log.pk, mask_mobile(log.mobile), result.smsid)
        signals.sms_sent.send(sender=SmsLog, log=log)


def retry_delay(log: SmsLog, error: HuyiApiError) -> float | None:
    """Seconds until ``log`` is tried again, or None when it is not retried (only where nothing was sent)."""
    from . import tasks

    if not isinstance(error, HuyiConnectionError):
        return None
    if log.attempts > huyi_settings.QUEUE["RETRIES"] or not tasks.can_defer():
        return None
    return tasks.retry_delay(log.attempts)


def release(log: SmsLog, delay: float, error: HuyiApiError) -> bool:
    """Give a claimed row back to the queue, due in ``delay`` seconds (nothing of it was sent)."""
    now = timezone.now()
    released = SmsLog.objects.filter(pk=log.pk, status=Status.QUEUED, claimed_at=log.claimed_at).update(
        claimed_at=None,
        dispatched_at=now + timedelta(seconds=delay),
        provider_msg=reason(error),
        updated_at=now,
    )
    if released:
        logger.info(
            "SMS %s to %s not sent (%s); retry %d in %.0fs", log.pk, mask_mobile(log.mobile), error, log.attempts, delay
        )
    return bool(released)
