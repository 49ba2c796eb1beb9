"""Marketing in bulk: one text to many numbers, a batch of numbers per Submit, through the queue.

The only module that writes ``BulkSend`` rows; the ``SmsLog`` rows of its
recipients are recorded by ``outcomes.py`` as every send's are, so a bulk
message lives exactly as any other (statuses, signals, receipts, resends).

* **Checked before anything is written.** :func:`send_bulk` reads every number
  and the text first: one number that is not a mobile number refuses the whole
  call (:class:`~.exceptions.InvalidMobiles`, naming every bad one), and nothing
  is written. Numbers given twice are sent once; numbers on the opt-out list get
  no row (counted in ``BulkSend.opted_out``). The unsubscribe text is appended
  where it is missing.
* **One transaction, then the queue.** The ``BulkSend`` row and one ``queued``
  ``SmsLog`` per recipient (numbered with its ``batch``) are inserted in chunks,
  in one transaction; each batch is handed to a worker on commit, one task per
  batch, so a request that sends to 10,000 numbers only writes rows.
* **A batch is one Submit, once.** The worker (:func:`send_batch`) claims the
  batch's rows together, under a lock on the ``BulkSend`` row, so two deliveries
  of one task (or a requeue's) send it once; ``sending.send_queued`` never takes a
  bulk row alone. Numbers that opted out while queued are left out (their rows
  ``failed``, code 4030, and counted). The rest go out in one Submit (numbers
  comma-separated, ``stime`` for a scheduled send) and every row records the
  answer: all share its smsid, and each receipt is matched by smsid *and* number
  (``receipts.py``). A retry (nothing was sent), an unknown outcome or a refusal
  applies to the whole batch.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import optouts, outcomes, sending, statements, tasks, validation
from .backends import OutgoingSms
from .conf import huyi_settings
from .exceptions import (
    RESULT_CODES,
    HuyiApiError,
    HuyiConnectionError,
    InvalidMobiles,
    ResultCode,
    error_for_code,
)
from .models import BulkSend, OptOut, SmsLog
from .privacy import private
from .provider import check_product, mask_mobile

__all__ = ["BulkPlan", "plan_bulk", "start_bulk", "send_bulk", "send_batch", "SCHEDULABLE_PRODUCTS"]

logger = logging.getLogger("django_huyi_sms.bulk")

Status = SmsLog.Status

#: The products that take several numbers in one Submit, and a scheduled time (``stime``).
SCHEDULABLE_PRODUCTS = frozenset({"marketing"})

#: Rows inserted at a time (one ``executemany``; no model instance is built for them).
INSERT_CHUNK = 1000
#: Numbers looked up on the opt-out list at a time (one query each; well under every database's parameter cap).
LOOKUP_CHUNK = 500
#: Acceptances recorded per UPDATE (two parameters a row, so a 1,000-number batch stays under SQLite's old cap of 999).
RECORD_CHUNK = 100
#: Bad numbers named in the error; the rest are counted.
NAMED_INVALID = 10


@dataclass(frozen=True)
class BulkPlan:
    """A bulk send, checked and ready: what :func:`start_bulk` writes. Nothing is written yet.

    ``numbers`` are normalised, each once, in the order given; ``content`` carries
    the unsubscribe text; ``scheduled_at`` is aware (or, with ``USE_TZ = False``,
    naive local time, as Django stores it).
    """

    product: str
    content: str
    parts: int
    numbers: tuple[str, ...]
    duplicates: int
    scheduled_at: datetime | None
    batch_size: int
    #: A template send: the template's id and the variables every recipient gets (``content`` is the rendering).
    templateid: int | None = None
    variables: tuple[str, ...] = ()


@private
def send_bulk(
    mobiles: Iterable[str] | str,
    content: str = "",
    *,
    template: sending.Template | None = None,
    variables: Sequence[str | int] = (),
    scheduled_at: datetime | None = None,
    product: str = "marketing",
) -> BulkSend:
    """Send ``content`` to every number of ``mobiles`` through the queue; return the ``BulkSend``.

    ``mobiles`` is any iterable of numbers (or one comma-separated string), written
    as a person types them (``+86 138-0013-8000``); blank entries are skipped and a
    number given twice is sent once (``BulkSend.duplicates``). For the marketing
    product, numbers that opted out are skipped (``BulkSend.opted_out``) and
    ``MARKETING["UNSUBSCRIBE_TEXT"]`` is appended to ``content`` unless it is in it
    already. Or a template send, as ``send_sms`` takes one: ``template`` (an
    approved ``SmsTemplate`` of the product, or its templateid) and the
    ``variables`` every recipient gets; its text must carry the unsubscribe text
    itself (nothing can be appended to what the provider renders). The
    marketing product takes ``MARKETING["BATCH_SIZE"]`` numbers per Submit; the
    others take one. ``scheduled_at`` (marketing only) has the provider
    send the messages at that time: an aware datetime, or a naive one in the
    current time zone, as Django reads it; it goes out in China time.

    Every number and the text are checked before anything is written: raises
    :class:`~.exceptions.InvalidMobiles` (code 406, ``positions`` of every bad
    number), ``HuyiRecipientError`` 403 (no number at all), the content's
    ``HuyiContentError`` (404, 4070, 4073, 4074 …), ``ValueError`` for an unknown
    product, a ``scheduled_at`` that is past or not offered or a marketing
    template without the unsubscribe text, and a template send's errors as
    ``send_sms`` raises them (4071, 4072, 40722). Then, in one transaction, the ``BulkSend`` row and one queued
    ``SmsLog`` per recipient (``BulkSend.logs``) are written, and each batch is
    handed to a worker once the transaction commits (nothing goes out if it
    rolls back). The outcome of each message is recorded on its row.
    """
    plan = plan_bulk(
        mobiles, content, template=template, variables=variables, scheduled_at=scheduled_at, product=product
    )
    return start_bulk(plan)


@private
def plan_bulk(
    mobiles: Iterable[str] | str,
    content: str = "",
    *,
    template: sending.Template | None = None,
    variables: Sequence[str | int] = (),
    scheduled_at: datetime | None = None,
    product: str = "marketing",
) -> BulkPlan:
    """Check a bulk send as :func:`send_bulk` does and return its plan. Writes nothing; raises as ``send_bulk``."""
    check_product(product)
    content, templateid, values = sending.prepare_text(content, template=template, variables=variables, product=product)
    if product in optouts.MARKETING_PRODUCTS:
        content = _with_unsubscribe_text(content, templateid)
    scheduled_at = _scheduled(scheduled_at, product)
    numbers, duplicates = _numbers(mobiles, product)
    batch_size = huyi_settings.MARKETING["BATCH_SIZE"] if product in SCHEDULABLE_PRODUCTS else 1
    return BulkPlan(
        product=product,
        content=content,
        parts=validation.count_parts(content, product=product),
        numbers=numbers,
        duplicates=duplicates,
        scheduled_at=scheduled_at,
        batch_size=batch_size,
        templateid=templateid,
        variables=values,
    )


def _with_unsubscribe_text(content: str, templateid: int | None = None) -> str:
    text = huyi_settings.MARKETING["UNSUBSCRIBE_TEXT"]
    if not text or text in content:
        return content
    if templateid is not None:
        raise ValueError(
            f"template #{templateid} does not carry the unsubscribe text {text!r}, and nothing can be appended to"
            " what the provider renders: register a marketing template that ends with it"
        )
    # Checked again with the text on: it may now be too long (4073).
    return validation.validate_content(content + text)


def _scheduled(value: datetime | None, product: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"scheduled_at must be a datetime, not {type(value).__name__}")
    if product not in SCHEDULABLE_PRODUCTS:
        raise ValueError(f"scheduled_at: the {product} product sends at once; only marketing takes a send time")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)  # the current time zone, as Django reads a naive datetime
    if value <= timezone.now():
        raise ValueError(f"scheduled_at ({value.isoformat()}) is not in the future")
    return value if settings.USE_TZ else timezone.make_naive(value)


def _numbers(mobiles: Iterable[str] | str, product: str) -> tuple[tuple[str, ...], int]:
    """The numbers normalised, each once, in order, and how many repeats were dropped. Raises for bad ones."""
    if isinstance(mobiles, str):
        mobiles = mobiles.replace("，", ",").split(",")  # a full-width comma separates numbers too
    international = product == "international"
    numbers: dict[str, None] = {}
    invalid: list[tuple[int, str]] = []
    given = duplicates = 0
    for position, mobile in enumerate(mobiles, start=1):
        if mobile is None or not str(mobile).strip():
            continue
        given += 1
        try:
            number = validation.normalize_mobile(mobile, international=international)
        except HuyiApiError:
            invalid.append((position, str(mobile)))
            continue
        if number in numbers:
            duplicates += 1
        else:
            numbers[number] = None
    if invalid:
        raise _invalid(invalid, given)
    if not numbers:
        raise error_for_code(ResultCode.MOBILE_EMPTY, detail="no number to send to")
    return tuple(numbers), duplicates


def _invalid(invalid: list[tuple[int, str]], given: int) -> InvalidMobiles:
    named = ", ".join(f"#{position} {mask_mobile(mobile.strip())!r}" for position, mobile in invalid[:NAMED_INVALID])
    more = f" and {len(invalid) - NAMED_INVALID} more" if len(invalid) > NAMED_INVALID else ""
    return InvalidMobiles(
        ResultCode.MOBILE_INVALID,
        RESULT_CODES[ResultCode.MOBILE_INVALID].zh,
        detail=f"{len(invalid)} of {given} numbers are not mobile numbers, nothing was sent: {named}{more}",
        positions=tuple(position for position, _mobile in invalid),
    )


@private
def start_bulk(plan: BulkPlan, *, progress: Callable[[int, int], None] | None = None) -> BulkSend:
    """Write ``plan``'s ``BulkSend`` and its recipients' queued rows in one transaction; queue its batches on commit.

    Numbers on the opt-out list (marketing) get no row and are counted.
    ``progress`` is called after each chunk with the rows written so far and the
    rows to write (for a progress bar). Returns the ``BulkSend``.
    """
    recipients = _without_opted_out(plan)
    opted_out = len(plan.numbers) - len(recipients)
    content, parts, size = plan.content, plan.parts, plan.batch_size
    with transaction.atomic():
        bulk = BulkSend.objects.create(
            product=plan.product,
            content=content,
            parts=parts,
            scheduled_at=plan.scheduled_at,
            batch_size=size,
            recipients=len(recipients),
            opted_out=opted_out,
            duplicates=plan.duplicates,
        )
        shared = _shared_values(plan, bulk)
        for start in range(0, len(recipients), INSERT_CHUNK):
            chunk = recipients[start : start + INSERT_CHUNK]
            statements.insert_rows(
                shared, ("mobile", "batch"), ((mobile, (start + offset) // size) for offset, mobile in enumerate(chunk))
            )
            if progress is not None:
                progress(start + len(chunk), len(recipients))
        tasks.dispatch_batches_on_commit((bulk.pk, batch) for batch in range(bulk.batches))
    logger.info(
        "bulk send %s: %d recipients in %d batches, %d opted out, %d duplicates",
        bulk.pk,
        bulk.recipients,
        bulk.batches,
        opted_out,
        plan.duplicates,
    )
    return bulk


def _shared_values(plan: BulkPlan, bulk: BulkSend) -> dict[str, Any]:
    """What every recipient's queued row holds alike, as ``sending`` writes a queued row.

    The database knows none of the model's defaults, so every NOT NULL column is given: at the
    model's default unless said here (a column added to ``SmsLog`` later is covered the same way).
    """
    now = timezone.now()
    values = {
        field.attname: field.get_default()
        for field in SmsLog._meta.concrete_fields
        if not field.null and not field.primary_key and field.attname != "mobile"
    }
    values.update(
        product=plan.product,
        content=plan.content,
        parts=plan.parts,
        status=Status.QUEUED,
        purpose="",
        carries_code=False,
        created_at=now,
        dispatched_at=now,
        attempts=0,
        updated_at=now,
        receipt_waiting=False,
        bulk_id=bulk.pk,
        templateid=plan.templateid,
        variables=list(plan.variables),
    )
    return values


def _without_opted_out(plan: BulkPlan) -> list[str]:
    if plan.product not in optouts.MARKETING_PRODUCTS:
        return list(plan.numbers)
    opted: set[str] = set()
    numbers = plan.numbers
    for start in range(0, len(numbers), LOOKUP_CHUNK):
        chunk = numbers[start : start + LOOKUP_CHUNK]
        opted.update(OptOut.objects.filter(mobile__in=chunk).values_list("mobile", flat=True))
    return [number for number in numbers if number not in opted]


# -- the worker's side ----------------------------------------------------------------------------


def send_batch(bulk_pk: int, batch: int) -> int:
    """Send batch ``batch`` of bulk send ``bulk_pk`` in one Submit: the body of its task.

    Returns how many numbers the Submit carried (0 when there was nothing left
    to send: another delivery of the task sent it, or every number opted out).
    Failures are recorded on the rows, never raised: a connection failure hands
    the batch back to the queue with backoff while ``QUEUE["RETRIES"]`` allow
    and the runner can defer; a refusal marks every row ``failed``, an answer
    that never came ``unknown``.
    """
    claimed = _claim(int(bulk_pk), int(batch))
    if claimed is None:
        return 0
    bulk, rows = claimed
    rows = _leave_out_opted_out(bulk, rows)
    if not rows:
        return 0
    message = OutgoingSms(
        product=bulk.product,
        mobile=",".join(row.mobile for row in rows),
        content=bulk.content,
        parts=bulk.parts,
        stime=bulk.scheduled_at,
        # A template send: every row holds the same template and variables (see _shared_values).
        templateid=rows[0].templateid,
        variables=tuple(rows[0].variables or ()),
    )
    try:
        result = outcomes.send_one(message)
    except HuyiApiError as error:
        _record_failure(bulk, batch, rows, error)
        return len(rows)
    except Exception as bug:
        # It may have raised after the request left: every row is unknown, never sent again.
        for row in rows:
            outcomes.record_unknown(row, f"{bug.__class__.__name__} in backend")
        logger.exception("bulk send %s, batch %s: the backend raised", bulk.pk, batch)
        return len(rows)
    for start in range(0, len(rows), RECORD_CHUNK):
        outcomes.record_submitted_together([(row, result) for row in rows[start : start + RECORD_CHUNK]])
    logger.info("bulk send %s, batch %s: %d numbers submitted, smsid %s", bulk.pk, batch, len(rows), result.smsid)
    return len(rows)


def _claim(bulk_pk: int, batch: int) -> tuple[BulkSend, list[SmsLog]] | None:
    """Take every waiting row of the batch for this worker, all or none. ``None``: nothing to send."""
    now = timezone.now()
    waiting = SmsLog.objects.filter(bulk_id=bulk_pk, batch=batch, status=Status.QUEUED, claimed_at__isnull=True)
    with transaction.atomic():
        # The bulk's row lock makes claims of its batches take turns (PostgreSQL): two deliveries of one
        # task cannot each take a part of the batch and send it as two Submits.
        bulk = BulkSend.objects.select_for_update().filter(pk=bulk_pk).first()
        rows = list(waiting.order_by("pk")) if bulk is not None else []
        if not rows:
            return None
        taken = waiting.filter(pk__in=[row.pk for row in rows]).update(
            claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if taken != len(rows):
            # Another writer took some in between (a database without row locks): leave the batch to it.
            transaction.set_rollback(True)
            logger.warning("bulk send %s, batch %s: claimed elsewhere meanwhile; not sent here", bulk_pk, batch)
            return None
    assert bulk is not None
    for row in rows:
        row.claimed_at, row.attempts, row.updated_at = now, row.attempts + 1, now
    return bulk, rows


def _leave_out_opted_out(bulk: BulkSend, rows: list[SmsLog]) -> list[SmsLog]:
    """The rows whose number may still get the message; the others opted out while queued: failed, counted."""
    if bulk.product not in optouts.MARKETING_PRODUCTS:
        return rows
    opted = set(OptOut.objects.filter(mobile__in=[row.mobile for row in rows]).values_list("mobile", flat=True))
    if not opted:
        return rows
    for row in rows:
        if row.mobile in opted:
            error = error_for_code(
                ResultCode.MOBILE_BLACKLISTED, "", detail="the number opted out of marketing messages"
            )
            error.log = row
            outcomes.record_error(row, error)
    BulkSend.objects.filter(pk=bulk.pk).update(opted_out=F("opted_out") + len(opted))
    logger.info("bulk send %s: %d numbers opted out while queued; not sent", bulk.pk, len(opted))
    return [row for row in rows if row.mobile not in opted]


def _record_failure(bulk: BulkSend, batch: int, rows: list[SmsLog], error: HuyiApiError) -> None:
    """The Submit did not go through: retry the batch if nothing was sent and retries allow, else record each row."""
    if isinstance(error, HuyiConnectionError):
        delay = outcomes.retry_delay(rows[0], error)  # claimed together: every row has made as many attempts
        if delay is not None and _release(rows, delay, error):
            tasks.dispatch_batch(bulk.pk, batch, delay=delay)
            return
    logger.warning("bulk send %s, batch %s (%d numbers): %s", bulk.pk, batch, len(rows), error)
    for row in rows:
        row_error = copy.copy(error)
        row_error.log = row
        # A blacklist code for several numbers does not say which one: nobody is put on the opt-out list for it.
        outcomes.record_error(row, row_error, blacklist=len(rows) == 1)


def _release(rows: list[SmsLog], delay: float, error: HuyiApiError) -> bool:
    """Give the batch's claimed rows back to the queue, due in ``delay`` seconds (nothing of it was sent)."""
    now = timezone.now()
    released = SmsLog.objects.filter(
        pk__in=[row.pk for row in rows], status=Status.QUEUED, claimed_at=rows[0].claimed_at
    ).update(
        claimed_at=None,
        dispatched_at=now + timedelta(seconds=delay),
        provider_msg=outcomes.reason(error),
        updated_at=now,
    )
    if released:
        logger.info("%d SMS of a bulk send not sent (%s); retry %d in %.0fs", released, error, rows[0].attempts, delay)
    return bool(released)
