"""Sending: validate, record an ``SmsLog`` row, hand to the backend (now or through the queue), record, signal.

This is the only module that writes ``SmsLog`` rows for sends and ``SmsTemplate``
rows for template submissions; what the provider answered is recorded on them by
``outcomes.py``, which ``bulk.py`` shares. Views, forms, commands and admin actions call it.

Three promises shape it:

* **A row before the call.** The row exists (committed) before the request
  leaves, so a crash mid-send leaves a trace, never a message nobody knows of.
* **Outcomes that tell the truth.** The provider's answer decides ``submitted``
  or ``failed``; a request that left with no valid answer is ``unknown`` (the
  provider may have sent it), never ``failed``: nothing sends it again by
  itself. Only a send that certainly reached nobody is retried.
* **Few statements.** A send is an INSERT and one conditional UPDATE. A receipt
  that arrives before its send is recorded does not make every send look for
  it: ``receipts.py`` marks the row (``receipt_waiting``) and the UPDATE that
  records the answer only matches an unmarked row; a marked one takes the slow
  path that applies the waiting receipt (``receipts.py`` has the whole argument).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import balance_alarm, optouts, outcomes, statements, template_variables, validation
from .backends import OutgoingSms, get_backend
from .conf import huyi_settings
from .exceptions import (
    HuyiApiError,
    ResultCode,
    error_for_code,
)
from .models import SmsLog, SmsTemplate
from .privacy import private
from .provider import SubmitResult, check_product, mask_mobile

__all__ = [
    "prepare_message",
    "prepare_text",
    "send_sms",
    "prepare_send",
    "record_send",
    "enqueue_sms",
    "deliver",
    "send_queued",
    "requeue",
    "RequeueResult",
    "get_balance",
    "add_template",
    "resend",
    "NotResendable",
    "RESENDABLE_STATUSES",
]

logger = logging.getLogger("django_huyi_sms.sending")

Status = SmsLog.Status

#: A worker claims this many rows at a time and records their answers together: two commits
#: per chunk instead of one per message (measured: 1 worker 523 → 662 messages/s on PostgreSQL
#: from 10 to 25). The price: a worker that dies mid-chunk leaves up to this many ``unknown``.
CLAIM_CHUNK = 20



#: What ``send_sms`` and friends take as a template: an ``SmsTemplate`` row, or a templateid.
Template = SmsTemplate | int


@private
def prepare_message(
    mobile: str,
    content: str = "",
    *,
    template: Template | None = None,
    variables: Sequence[str | int] = (),
    product: str = "sms",
) -> OutgoingSms:
    """Validate and normalise a message for ``product`` as the provider would.

    Whole ``content``; or a template send: ``template`` (an approved
    ``SmsTemplate`` of ``product``, or its templateid; ``1`` is the sms
    product's default verification template, known without a row) filled with
    ``variables`` in order. The template's text is rendered here, so the
    message's ``content`` (and its billed parts) is what the phone gets, and
    the provider is sent the variables (``OutgoingSms.submitted_content``).

    Raises the exception of the provider's code: ``HuyiRecipientError``
    403/406, ``HuyiContentError`` 404/4070/4073/4074 for the text (rendered or
    whole), 4071 for a template not recorded as approved for ``product``, 4072
    for a wrong number of variables or one holding ``|``, 40722 for a
    verification template's variable past 8 characters (and code ``None`` for
    an empty one; see ``template_variables.py``). Raises ``ValueError`` for an
    unknown product, content given with a template or variables without one,
    and ``TypeError`` for a template or variables of the wrong type. Writes
    nothing; reads the template's row when given a templateid.
    """
    check_product(product)
    mobile_field = validation.prepare_mobile(mobile, product)
    content, templateid, values = prepare_text(content, template=template, variables=variables, product=product)
    parts = validation.count_parts(content, product=product)
    return OutgoingSms(
        product=product, mobile=mobile_field, content=content, parts=parts, templateid=templateid, variables=values
    )


def prepare_text(
    content: str = "",
    *,
    template: Template | None = None,
    variables: Sequence[str | int] = (),
    product: str = "sms",
) -> tuple[str, int | None, tuple[str, ...]]:
    """The text half of :func:`prepare_message`, for any number of recipients (``send_bulk``).

    Returns ``(text, templateid, variables)``: the checked text the phone gets
    (rendered, for a template send) and, for a template send, its templateid
    and checked variables (``None`` and ``()`` otherwise). Raises as
    ``prepare_message`` does for the text.
    """
    if template is None:
        if variables:
            raise ValueError("variables need a template: send_sms(mobile, template=..., variables=[...])")
        return validation.validate_content(content, product=product), None, ()
    if content:
        raise ValueError("send either content or a template with its variables, not both")
    templateid, text = _template_text(template, product)
    values = template_variables.check_values(text, variables, templateid=templateid)
    return validation.validate_content(template_variables.render(text, values), product=product), templateid, values


def _template_text(template: Template, product: str) -> tuple[int, str]:
    """``template``'s templateid and text, if the provider will take it for ``product``; raises 4071 otherwise.

    Only a template recorded as approved counts (``add_template`` records it,
    the review push approves it), and template 1 of the sms product. The row is
    what the message is rendered from: without it, the log and the billing
    count would not know the text.
    """
    if isinstance(template, SmsTemplate):
        row: SmsTemplate | None = template
        if template.templateid is None:
            raise error_for_code(ResultCode.NO_TEMPLATE, detail="the template has no templateid: it was never added")
        templateid = template.templateid
    else:
        templateid = template_variables.check_templateid(template)
        if template_variables.is_default_template(templateid, product):
            return templateid, template_variables.DEFAULT_TEMPLATE
        row = SmsTemplate.objects.filter(product=product, templateid=templateid).first()
    if row is None:
        raise error_for_code(
            ResultCode.NO_TEMPLATE,
            detail=f"template #{templateid} of the {product} product is not recorded: add it with add_template() "
            "(a template registered in the ihuyi console: record it as an approved SmsTemplate)",
        )
    if row.product != product:
        raise error_for_code(
            ResultCode.NO_TEMPLATE, detail=f"template #{templateid} belongs to the {row.product} product, not {product}"
        )
    if row.status != SmsTemplate.Status.APPROVED:
        raise error_for_code(
            ResultCode.NO_TEMPLATE, detail=f"template #{templateid} is {row.status}: only an approved template is sent"
        )
    return templateid, row.content


@private
def send_sms(
    mobile: str,
    content: str = "",
    *,
    template: Template | None = None,
    variables: Sequence[str | int] = (),
    product: str = "sms",
    purpose: str = "",
    user: Any = None,
    fail_silently: bool = False,
    redact: Sequence[str] = (),
) -> SmsLog:
    """Send ``content`` to one ``mobile`` now, and return its ``SmsLog`` row.

    Or send ``template`` (an ``SmsTemplate``, or a templateid: ``1`` is the
    default verification template) with ``variables``, in the provider's
    template-variable mode (see :func:`prepare_message`); the row keeps the
    templateid, the variables and the text they render.

    ``redact`` lists secrets in ``content`` or ``variables`` (a one-time code)
    that the provider gets but the row never stores: they are starred out in
    ``SmsLog.content`` and ``SmsLog.variables``, and the row is marked
    ``carries_code`` (never sent again).

    The row is written as ``queued`` before the HTTP call, then becomes
    ``submitted`` (with the provider's ``smsid``; ``sms_sent`` is sent),
    ``failed`` (the provider refused, or the request never left; ``sms_failed``)
    or ``unknown`` (the request left and no valid answer came, so it may have
    been sent; ``sms_status_changed``).

    Invalid input (a malformed number, empty or over-long content, emoji, a bad
    signature) raises the provider's exception class before anything is
    written, whatever ``fail_silently`` says: nothing was sent. Failures of the
    send itself raise a ``HuyiApiError`` subclass unless ``fail_silently`` is
    true (``HuyiConnectionError``: nothing was sent; ``HuyiTransportError``:
    unknown); the row records them either way, and the exception carries it as
    ``error.log``.
    """
    message = prepare_send(mobile, content, template, variables, product)
    log = record_send(message, purpose=purpose, user=user, redact=redact)
    deliver(log, message, fail_silently=fail_silently)
    return log


@private
def record_send(message: OutgoingSms, *, purpose: str = "", user: Any = None, redact: Sequence[str] = ()) -> SmsLog:
    """INSERT the row of a ``message`` (from :func:`prepare_message`) that this process sends at once.

    With :func:`prepare_send`, the first half of :func:`send_sms`, for a caller that writes the row in a transaction of
    its own (``otp.py`` records a code and its SMS together), then hands both to :func:`deliver`
    once it has committed. ``redact`` as for ``send_sms``.
    """
    return _new_row(message, purpose=purpose, user=user, redact=redact, claimed=True)


@private
def enqueue_sms(
    mobile: str,
    content: str = "",
    *,
    template: Template | None = None,
    variables: Sequence[str | int] = (),
    product: str = "sms",
    purpose: str = "",
    user: Any = None,
    fail_silently: bool = False,
) -> SmsLog:
    """Record ``content`` to ``mobile`` as ``queued`` and send it from a task once the transaction commits.

    Takes ``send_sms``'s arguments (a template and its variables too) and
    validates the same way, raising before anything is written; the row keeps
    what the worker sends. The row is handed to a worker only on commit
    (``transaction.on_commit``), so a rollback sends nothing, and a crash after
    the commit loses nothing (``huyi_requeue`` hands out rows no worker took).
    Rows queued in one transaction go to workers in batches of
    ``QUEUE["BATCH_SIZE"]``. The outcome is recorded on the row as for
    ``send_sms``; nothing is raised for it (``fail_silently`` is accepted for
    symmetry and changes nothing). With Django's immediate task backend (the
    default) the send happens in this process right after the commit.
    """
    from . import tasks  # tasks.py calls back into this module: import at call time

    message = prepare_send(mobile, content, template, variables, product)
    log = _new_row(message, purpose=purpose, user=user, dispatched=True)
    tasks.dispatch_on_commit([log.pk])
    return log


def prepare_send(
    mobile: str, content: str, template: Template | None, variables: Sequence[str | int], product: str
) -> OutgoingSms:
    """:func:`prepare_message` for one number that may receive ``product``: what ``send_sms`` checks
    before it writes anything, raising as it does."""
    message = prepare_message(mobile, content, template=template, variables=variables, product=product)
    if len(message.mobiles) != 1:
        raise error_for_code(ResultCode.MOBILE_INVALID, detail="send_sms() sends to exactly one number")
    optouts.check_may_receive(message.mobile, product)
    return message


def _new_row(
    message: OutgoingSms,
    *,
    purpose: str,
    user: Any,
    redact: Sequence[str] = (),
    claimed: bool = False,
    dispatched: bool = False,
    **extra: Any,
) -> SmsLog:
    """INSERT the ``queued`` row for ``message``.

    ``claimed``: this process sends it right away, so it is in flight from the
    start (should the process die mid-send, the row becomes ``unknown``, never
    sent again). ``dispatched``: it goes to the task queue.
    """
    purpose = validation.validate_purpose(purpose)
    now = timezone.now()
    values = {
        "product": message.product,
        "mobile": message.mobile,
        "content": _redacted(message.content, redact),
        "parts": message.parts,
        "templateid": message.templateid,
        "variables": [_redacted(value, redact) for value in message.variables],
        "status": Status.QUEUED,
        "smsid": "",
        "provider_msg": "",
        "receipt_code": "",
        "receipt_msg": "",
        "purpose": purpose or "",
        "carries_code": any(redact),
        "user_id": getattr(user, "pk", None),
        "resent_from_id": None,
        "created_at": now,
        "dispatched_at": now if dispatched else None,
        "claimed_at": now if claimed else None,
        "attempts": 1 if claimed else 0,
        "updated_at": now,
        "receipt_waiting": False,
        **extra,
    }
    return statements.insert_row(values)


def _redacted(content: str, secrets: Sequence[str]) -> str:
    """``content`` with each secret starred out, keeping its length (and so the billed parts)."""
    for secret in secrets:
        if secret:
            content = content.replace(secret, "*" * len(secret))
    return content


@private
def deliver(log: SmsLog, message: OutgoingSms, *, fail_silently: bool = False) -> SmsLog:
    """Hand a claimed ``log``'s ``message`` to the backend and record what happened.

    The one place a row is sent from, whatever queued it. A failure is raised
    (with ``error.log``) unless ``fail_silently``.
    """
    error = _attempt(log, message)
    if error is not None:
        outcomes.record_error(log, error)
        if not fail_silently:
            raise error
    return log


def _attempt(log: SmsLog, message: OutgoingSms) -> HuyiApiError | None:
    """Send ``message``; record an acceptance, return a failure for the caller to record or retry."""
    try:
        result = outcomes.send_one(message)
    except HuyiApiError as error:
        error.log = log
        return error
    except Exception as error:
        # A bug in a backend: it may have raised after the request left, so the row cannot
        # be called failed. Record it as unknown, then let the bug be seen.
        outcomes.record_unknown(log, f"{error.__class__.__name__} in backend")
        raise
    outcomes.record_submitted(log, result)
    return None


# -- the queue's side: what a worker runs ----------------------------------------------------------


@private
def send_queued(pks: Sequence[int]) -> int:
    """Send the queued rows ``pks``: the body of the queue's task. Returns how many were attempted.

    Rows that are not ``queued`` any more, or that another worker has claimed,
    are skipped, so a task delivered twice sends nothing twice; so are the rows
    of a bulk send, which go out only with their whole batch (``bulk.py``). Rows are
    claimed ``CLAIM_CHUNK`` at a time (one UPDATE), sent one by one, and the
    chunk's acceptances recorded together (one UPDATE): two commits per chunk
    instead of one per message. Should the worker die mid-chunk, the chunk's
    rows are claimed and unfinished, so ``huyi_requeue`` marks them unknown (at
    most ``CLAIM_CHUNK`` messages), never sent again. A send that reached
    nobody (``HuyiConnectionError``) is handed back to the queue with backoff
    while ``QUEUE["RETRIES"]`` allow and the runner can defer; otherwise it is
    recorded as failed.
    """
    from . import tasks

    attempted = 0
    retries: list[tuple[int, float]] = []
    pks = list(dict.fromkeys(int(pk) for pk in pks))
    backend = get_backend()
    for start in range(0, len(pks), CLAIM_CHUNK):
        accepted: list[tuple[SmsLog, SubmitResult]] = []
        for log in _claim(pks[start : start + CLAIM_CHUNK]):
            attempted += 1
            message = _stored_message(log)
            try:
                accepted.append((log, outcomes.send_one(message, backend)))
                continue
            except HuyiApiError as caught:
                error = caught
                error.log = log
            except Exception as bug:
                # It may have raised after the request left; the rest of the batch still goes out.
                outcomes.record_unknown(log, f"{bug.__class__.__name__} in backend")
                logger.exception("SMS %s: the backend raised", log.pk)
                continue
            delay = outcomes.retry_delay(log, error)
            if delay is not None and outcomes.release(log, delay, error):
                retries.append((log.pk, delay))
            else:
                outcomes.record_error(log, error)
        outcomes.record_submitted_together(accepted)
    for pk, delay in retries:
        tasks.dispatch([pk], delay=delay)
    return attempted


def _stored_message(log: SmsLog) -> OutgoingSms:
    """The message a queued row stands for, as ``prepare_message`` made it when it was queued."""
    return OutgoingSms(
        product=log.product,
        mobile=log.mobile,
        content=log.content,
        parts=log.parts,
        templateid=log.templateid,
        variables=tuple(log.variables or ()),
    )


def _claim(pks: Sequence[int]) -> list[SmsLog]:
    """Take the still waiting rows among ``pks`` for this worker, in one UPDATE. Returns them."""
    now = timezone.now()
    # A bulk send's row is never sent alone: its batch goes out in one Submit (bulk.send_batch).
    waiting = SmsLog.objects.filter(status=Status.QUEUED, claimed_at__isnull=True, bulk__isnull=True)
    claim = {"claimed_at": now, "attempts": F("attempts") + 1, "updated_at": now}
    with transaction.atomic():
        # On PostgreSQL the rows are locked (others skip them) from here to the commit, so the
        # UPDATE below takes exactly these; SQLite runs one writer at a time anyway.
        rows = list(waiting.select_for_update(skip_locked=True).filter(pk__in=pks).order_by("pk"))
        ids = [row.pk for row in rows]
        taken = waiting.filter(pk__in=ids).update(**claim) if ids else 0
        if taken != len(ids):
            # Another writer got some in between (a database without row locks, in a mode
            # that lets two writers interleave): undo, and take them one by one below.
            transaction.set_rollback(True)
    if taken != len(ids):
        rows = [row for row in rows if waiting.filter(pk=row.pk).update(**claim)]
    for row in rows:
        row.claimed_at, row.attempts, row.updated_at = now, row.attempts + 1, now
    return rows


@dataclass(frozen=True)
class RequeueResult:
    #: Queued rows no worker took in time, handed to the queue again.
    handed_out: int
    #: Rows a worker took and never finished: they may have been sent, so they are unknown now.
    unknown: int


def requeue(*, older_than: float | None = None, limit: int | None = None) -> RequeueResult:
    """Hand out again what the queue lost; the body of ``huyi_requeue``. Idempotent.

    A ``queued`` row that no worker claimed within ``older_than`` seconds
    (default ``QUEUE["STALE_AFTER"]``) of being handed out is handed out again;
    rows are claimed with ``select_for_update(skip_locked=True)``, so two
    requeues at once hand out each row once, and a worker that gets a row twice
    sends it once. A row that a worker claimed that long ago and never finished
    (the worker died mid-send) may have reached the provider: it becomes
    ``unknown``, never sent again. Processes at most ``limit`` rows (all by default).
    """
    from . import tasks

    older_than = huyi_settings.QUEUE["STALE_AFTER"] if older_than is None else older_than
    handed_out = unknown = 0
    while limit is None or handed_out + unknown < limit:
        now = timezone.now()
        cutoff = now - timedelta(seconds=older_than)
        chunk = huyi_settings.QUEUE["BATCH_SIZE"]
        if limit is not None:
            chunk = min(chunk, limit - handed_out - unknown)
        stale = Q(claimed_at__isnull=True, dispatched_at__lt=cutoff) | Q(claimed_at__lt=cutoff)
        with transaction.atomic():
            rows = list(
                SmsLog.objects.select_for_update(skip_locked=True)
                .filter(stale, status=Status.QUEUED)
                .order_by("pk")
                .only("pk", "mobile", "status", "claimed_at", "bulk", "batch")[:chunk]
            )
            lost = [row.pk for row in rows if row.claimed_at is None]
            in_flight = [row for row in rows if row.claimed_at is not None]
            if lost:
                SmsLog.objects.filter(pk__in=lost).update(dispatched_at=now, updated_at=now)
                # A bulk send's rows go out only with their whole batch: its batch is handed out instead.
                batches = {(row.bulk_id, row.batch) for row in rows if row.claimed_at is None and row.bulk_id}
                tasks.dispatch_on_commit([row.pk for row in rows if row.claimed_at is None and not row.bulk_id])
                tasks.dispatch_batches_on_commit((bulk, batch) for bulk, batch in batches if batch is not None)
        if not rows:
            break
        for row in in_flight:
            if outcomes.record_unknown(row, "the worker stopped while sending it: it may have been sent"):
                unknown += 1
        handed_out += len(lost)
    if handed_out or unknown:
        logger.info("requeue: %d handed out again, %d marked unknown", handed_out, unknown)
    return RequeueResult(handed_out=handed_out, unknown=unknown)


# -- the provider's other methods -----------------------------------------------------------------


def get_balance(product: str = "sms") -> int:
    """How many messages ``product``'s account has left.

    The low-balance alarm hears of every reading (``balance_alarm.py``): the
    reading that finds the number under ``LOW_BALANCE_THRESHOLD`` after one that
    did not sends ``balance_low`` and mails ``ADMINS``, once per crossing.
    Raises a ``HuyiApiError`` subclass when the provider refuses or cannot be reached.
    """
    check_product(product)
    balance = get_backend().get_balance(product).num
    balance_alarm.record_reading(product, balance)
    return balance


def add_template(content: str, *, product: str = "sms") -> SmsTemplate:
    """Submit ``content`` to the provider for review and record it as a pending ``SmsTemplate``.

    Variables are written ``【变量】``. The row is written only once the
    provider accepted the template (and knows its ``templateid``); a refusal
    raises the provider's exception and writes nothing.
    """
    check_product(product)
    content = validation.validate_template(content)
    result = get_backend().add_template(content, product)
    template, _created = SmsTemplate.objects.update_or_create(
        product=product,
        templateid=result.templateid,
        defaults={"content": content, "status": SmsTemplate.Status.PENDING},
    )
    return template


# -- resending ------------------------------------------------------------------------------------


class NotResendable(ValueError):
    """``resend()`` refused a message: it did not fail, it was already resent, it carried a one-time code,
    or its outcome is unknown and the operator did not confirm."""


#: The statuses of a message that did not reach the person and may be sent again.
RESENDABLE_STATUSES = (Status.FAILED, Status.UNDELIVERED)


@private
def resend(log: SmsLog, *, confirm_unknown: bool = False) -> SmsLog:
    """Send a failed or undelivered ``log`` again, as a new ``SmsLog`` row whose ``resent_from`` is ``log``.

    The new row goes through the same validation, opt-out check and backend as
    ``send_sms``, and records its own result; a provider refusal is recorded on
    it (``failed``) rather than raised. The new row keeps the original's
    ``purpose`` and ``user``.

    An ``unknown`` message may already be on the phone: it is resent only with
    ``confirm_unknown=True`` (the admin asks the operator first).

    Raises :class:`NotResendable` when ``log`` did not fail, has been resent
    already (so a double click sends once), carried a one-time code (an old
    code must not be sent again: the person asks for a new one), or is unknown
    and not confirmed. Invalid input raises the provider's exception class
    before anything is written, as in ``send_sms``.
    """
    allowed = RESENDABLE_STATUSES + ((Status.UNKNOWN,) if confirm_unknown else ())
    if log.carries_code:
        raise NotResendable("a one-time code is not sent twice; the person asks for a new code")
    if log.templateid is not None:
        # Checked again as a new send: the template may have been rejected since.
        message = prepare_send(log.mobile, "", log.templateid, log.variables, log.product)
    else:
        message = prepare_send(log.mobile, log.content, None, (), log.product)
    with transaction.atomic():
        # Lock the original so that two concurrent resends of it create one new row.
        original = SmsLog.objects.select_for_update().filter(pk=log.pk).first()
        if original is None or original.status not in allowed:
            if original is not None and original.status == Status.UNKNOWN:
                raise NotResendable("this message may have been sent: resend it only once an operator confirms")
            raise NotResendable("only a failed or undelivered message is resent")
        if original.resends.exists():
            raise NotResendable("this message has been resent already")
        new_log = _new_row(
            message,
            purpose=original.purpose,
            user=None,
            claimed=True,
            user_id=original.user_id,
            resent_from_id=original.pk,
        )
    # Sent after the commit: the lock is not held while the provider answers.
    logger.info("SMS %s to %s resent as %s", original.pk, mask_mobile(original.mobile), new_log.pk)
    deliver(new_log, message, fail_silently=True)
    return new_log
