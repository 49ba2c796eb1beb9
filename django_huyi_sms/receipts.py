"""Applying the provider's pushes: delivery receipts, upstream replies, template reviews.

The only module that writes ``StatusReceipt`` and ``UpstreamReply``
rows and moves an ``SmsLog`` past ``submitted``. The push views parse and
authenticate; they hand a small event object here.

Four rules shape this module:

* **The status only moves forward.** Every transition is a conditional
  ``UPDATE … WHERE status = …``, the open status the send was seen in (a
  compare-and-set, retried if another writer got there between the read and
  the write); the first final status wins, and a retried,
  late or out-of-order receipt changes nothing and sends no second signal.
* **Nothing is lost to the race between a fast receipt and our own send,
  and the send does not pay for it.** The provider may push a receipt before
  ``sending.py`` has stored the ``smsid`` it just got back. The receipt is
  stored, and when no send has its smsid, every ``queued`` send to that number
  (one of them may be waiting for this very answer) is marked
  ``receipt_waiting`` in the same transaction; once that commits, the send is
  looked for again. The sender records its answer with an UPDATE that only
  matches an unmarked row; on a marked one it records the answer anyway and
  then applies the waiting receipts. The two UPDATEs touch the same row, so
  the database orders them: if the sender's came first, the second look finds
  its smsid; if the mark came first, the sender sees it (only once it is
  committed, and the receipt with it). A send recorded inside its caller's
  transaction cannot be marked (nobody else sees its row yet); it looks for
  its receipts after its commit, so the second look must come after the
  receipt's commit: one of the two then sees the other. Matching is
  idempotent, so both finding it is harmless, and a send never looks for
  receipts unless one waits.
* **A receipt costs what its durable work costs.** The common case, a receipt
  for a send we know, is two statements in one transaction
  (:func:`apply_receipt` counts them and says why none can go).
* **An unknown send is matched by number.** A send whose answer never came
  has no smsid; a receipt for the same number within ``UNKNOWN_MATCH_WINDOW``
  gives it one, but only when exactly one such send and exactly one such
  unclaimed smsid fit, so two unknowns to one number are never guessed apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone

from . import optouts, signals
from .conf import huyi_settings
from .exceptions import ReceiptCode
from .models import OptOut, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply
from .provider import mask_mobile

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = [
    "ReceiptEvent",
    "ReplyEvent",
    "TemplateEvent",
    "apply_receipt",
    "match_pending_receipts",
    "match_unknown",
    "record_reply",
    "apply_template_review",
]

logger = logging.getLogger("django_huyi_sms.receipts")

_OPEN_STATUSES = (SmsLog.Status.QUEUED, SmsLog.Status.SUBMITTED, SmsLog.Status.UNKNOWN)


@dataclass(frozen=True)
class ReceiptEvent:
    """A delivery receipt, parsed: ``code`` ``ReceiptCode.DELIVERED`` ("2") means delivered, anything else not."""

    smsid: str
    mobile: str
    code: str
    msg: str
    report_time: datetime
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        return self.code == ReceiptCode.DELIVERED


@dataclass(frozen=True)
class ReplyEvent:
    mobile: str
    content: str
    smsid: str
    reply_time: datetime
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateEvent:
    templateid: int
    approved: bool
    msg: str
    product: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


# -- delivery receipts -------------------------------------------------------------------


@dataclass(frozen=True)
class _Moved:
    """One send a receipt moved on: its pk, the status it left and the one it took, and the row as
    written (``None`` when nobody listens to ``sms_status_changed``: then no row is built)."""

    pk: int
    old_status: str
    new_status: str
    log: SmsLog | None


def apply_receipt(event: ReceiptEvent) -> StatusReceipt:
    """Store a receipt push and apply it to its send if that send is known.

    Returns the stored receipt (``receipt.log`` is ``None`` while its send is
    not known yet). Sends ``sms_status_changed`` once per real transition,
    after the commit. Raises ``DatabaseError`` if it cannot be stored (the push
    view answers 503, and the provider pushes it again).

    The statements it runs (BEGIN and COMMIT aside), and why none can go:

    * **A receipt for a submitted send (nearly all of them): 2, in one
      transaction**, the durable work itself. An UPDATE finds the send by
      smsid and number and moves it on only from ``submitted``: the only open
      status a send with an smsid has (but for an unknown send matched by
      number, below), so guessing it needs no read first, and the guess is
      the compare-and-set that keeps the status forward-only. It returns the
      row for the signal (only when someone listens). The INSERT keeps the raw
      push, linked to that send. Both commit together, or neither.
    * **A duplicate, a late receipt, a receipt for a send already final: 2.**
      The UPDATE matches nothing; the INSERT then labels the copy a duplicate
      if an original is stored (``EXISTS`` on the unique key; ``ON CONFLICT
      DO NOTHING`` catches a copy committed in between, and the INSERT runs
      once more), links the send by smsid and number and reads its status,
      in one statement. A final status ends it there.
    * **An unknown send that has learned its smsid: 3.** The status the INSERT
      read is open and not ``submitted``: a compare-and-set UPDATE on it.
    * **An early receipt (no send has its smsid yet): 5.** The UPDATE and the
      INSERT find no send; the mark on the number's queued sends commits with
      the receipt; then one look by smsid and one for an unknown send to the
      number (two index lookups on two indexes). The look must come after
      the commit: a send recorded inside its caller's transaction looks for
      its receipts when that commits, and must find this one if this look
      missed it.
    """
    alias = router.db_for_write(StatusReceipt)
    connection = connections[alias]
    receipt = StatusReceipt(
        smsid=event.smsid,
        mobile=event.mobile,
        code=event.code,
        msg=event.msg[:255],
        report_time=event.report_time,
        received_at=timezone.now(),
        raw=event.raw,
    )
    with transaction.atomic(using=alias):
        moved = _move(receipt, connection)
        if moved:
            _store(receipt, connection, log_pk=min(change.pk for change in moved))
        else:
            status = _store(receipt, connection)
            if receipt.log_id is None:
                # A send to this number may have this smsid in hand and not recorded yet: mark it.
                # In this transaction: its sender sees the mark only once the receipt is visible too.
                SmsLog.objects.using(alias).filter(mobile=event.mobile, status=SmsLog.Status.QUEUED).update(
                    receipt_waiting=True
                )
            elif status in _OPEN_STATUSES:
                if receipt.duplicate:
                    # An earlier try of this push was stored, then cut off by the database (answered
                    # 503) before its send was found: the original must not stay unmatched beside it.
                    StatusReceipt.objects.using(alias).filter(
                        smsid=event.smsid, mobile=event.mobile, log__isnull=True
                    ).update(log_id=receipt.log_id)
                moved = _move(receipt, connection, log_pk=receipt.log_id, status=status)
    for change in moved:
        _announce(receipt, change)
    if receipt.log_id is None:
        log = _sent_with(event.smsid, event.mobile) or match_unknown(event.mobile)
        if log is None:
            logger.info("receipt for unknown smsid %s (%s) kept for later", event.smsid, mask_mobile(event.mobile))
        else:
            _match(receipt, log.pk, log.status)  # match_unknown may have linked it already: then a no-op
            receipt.log_id = log.pk
    return receipt


def _store(receipt: StatusReceipt, connection: BaseDatabaseWrapper, *, log_pk: int | None = None) -> str | None:
    """INSERT ``receipt``; sets its pk, ``duplicate`` and ``log_id``.

    With ``log_pk`` (the send it moved), a plain INSERT linked to it. Without,
    or should that one collide with a stored original, the INSERT that labels,
    links and reads: it returns the status of the send it linked (or ``None``).
    """
    values = [_prepared(connection, StatusReceipt, name, getattr(receipt, name)) for name in _STORED]
    if log_pk is not None:
        rows = _returning(connection, StatusReceipt, _insert_sql(connection, linked=True), [*values, False, log_pk])
        if rows:
            receipt.pk, receipt.log_id = rows[0][0], log_pk
            return None
    key = [values[_STORED.index(name)] for name in ("smsid", "mobile", "code", "report_time")]
    sql = _insert_sql(connection, linked=False)
    # At most a second time: nothing came in between, or an identical copy committed after this
    # statement's snapshot, so that it did not see the original it collided with; now it does.
    for _attempt in range(2):
        rows = _returning(connection, StatusReceipt, sql, [*values, *key, False, receipt.smsid, receipt.mobile])
        if rows:
            receipt.pk, receipt.duplicate, receipt.log_id, status = rows[0]
            receipt.duplicate = bool(receipt.duplicate)
            return status
    raise IntegrityError("the receipt collided twice with an original that is not there")


def _move(
    receipt: StatusReceipt, connection: BaseDatabaseWrapper, *, log_pk: int | None = None, status: str | None = None
) -> list[_Moved]:
    """Move the receipt's send to its final status, if it is still open; returns what moved.

    Without ``log_pk``: the sends with the receipt's smsid and number that are
    ``submitted`` (one, unless the provider gave two messages to one number one
    smsid), in one UPDATE, and nothing at all where the database cannot say
    which rows an UPDATE wrote (SQLite before 3.35). With ``log_pk``, last seen
    in ``status``: a compare-and-set on that status, read again and retried
    if another writer got in between (at most twice: the status only moves
    forward).
    """
    new_status = (SmsLog.Status.DELIVERED if receipt.delivered else SmsLog.Status.UNDELIVERED).value
    changes = [
        new_status,
        receipt.code,
        receipt.msg,
        _prepared(connection, SmsLog, "delivered_at", receipt.report_time),
        _prepared(connection, SmsLog, "updated_at", timezone.now()),
    ]
    full = signals.sms_status_changed.has_listeners(SmsLog)
    if log_pk is None:
        if not connection.features.can_return_columns_from_insert:
            return []
        status = SmsLog.Status.SUBMITTED.value
        where: list[Any] = [receipt.smsid, receipt.mobile, status]
        sql = _update_sql(connection, by_smsid=True, full=full)
    else:
        where = [log_pk, status]
        sql = _update_sql(connection, by_smsid=False, full=full)
    while status in _OPEN_STATUSES:
        rows = _returning(connection, SmsLog, sql, [*changes, *where], pk=log_pk)
        if rows:
            logs = _logs(connection, rows) if full else [None] * len(rows)
            return [_Moved(row[0], str(status), new_status, log) for row, log in zip(rows, logs, strict=True)]
        if log_pk is None:
            return []
        status = SmsLog.objects.using(connection.alias).filter(pk=log_pk).values_list("status", flat=True).first()
        where[-1] = status
    return []


def _announce(receipt: StatusReceipt, change: _Moved) -> None:
    logger.info(
        "SMS %s to %s: %s → %s", change.pk, mask_mobile(receipt.mobile), change.old_status, change.new_status
    )
    log = change.log
    if log is None:
        if not signals.sms_status_changed.has_listeners(SmsLog):
            return
        log = SmsLog.objects.get(pk=change.pk)  # a receiver connected while this receipt was applied
    if receipt.log_id == log.pk:
        receipt.log = log
    signals.sms_status_changed.send(
        sender=SmsLog, log=log, old_status=change.old_status, new_status=change.new_status, receipt=receipt
    )


def _sent_with(smsid: str, mobile: str) -> SmsLog | None:
    return SmsLog.objects.filter(smsid=smsid, mobile=mobile).order_by("pk").first()


def match_unknown(mobile: str) -> SmsLog | None:
    """Give the one ``unknown`` send to ``mobile`` the smsid of the one receipt waiting for ``mobile``, and apply it.

    Both within ``UNKNOWN_MATCH_WINDOW`` seconds. Returns the send, or ``None``
    when not exactly one send and one smsid fit (a guess could credit the
    wrong message). Called for a receipt no send claims, and for a send that
    has just become unknown while a receipt waited.
    """
    since = timezone.now() - timedelta(seconds=huyi_settings.UNKNOWN_MATCH_WINDOW)
    unknown = list(
        SmsLog.objects.filter(mobile=mobile, status=SmsLog.Status.UNKNOWN, smsid="", created_at__gte=since)
        .values_list("pk", flat=True)[:2]
    )
    if len(unknown) != 1:
        return None
    known_smsids = SmsLog.objects.filter(mobile=mobile).exclude(smsid="").values("smsid")
    smsids = list(
        StatusReceipt.objects.filter(mobile=mobile, log__isnull=True, received_at__gte=since)
        .exclude(smsid__in=known_smsids)
        .order_by()  # without the model's ordering, which DISTINCT would count: two copies are one smsid
        .values_list("smsid", flat=True)
        .distinct()[:2]
    )
    if len(smsids) != 1:
        return None
    learned = SmsLog.objects.filter(pk=unknown[0], status=SmsLog.Status.UNKNOWN, smsid="").update(
        smsid=smsids[0], updated_at=timezone.now()
    )
    log = _sent_with(smsids[0], mobile)  # ours, or whoever learned it first
    if log is None:
        return None
    if learned:
        logger.info("SMS %s to %s: unknown send matched to smsid %s by number", log.pk, mask_mobile(mobile), smsids[0])
        match_pending_receipts(log)
    return log


def match_pending_receipts(log: SmsLog) -> int:
    """Apply the receipts that arrived for ``log`` before its smsid was recorded.

    Called by ``sending.py`` when a marked send (``receipt_waiting``) records its smsid, and after
    the commit of a send made inside a transaction; and for each receipt push whose send is
    known (that push's receipt, and any an earlier, failed try of it left unmatched). Returns
    how many receipts were matched.
    """
    if not log.smsid:
        return 0
    pending = StatusReceipt.objects.filter(smsid=log.smsid, mobile=log.mobile, log__isnull=True).order_by("pk")
    matched = sum(1 for receipt in pending if _match(receipt, log.pk, log.status))
    if matched:
        log.refresh_from_db()
    return matched


def _match(receipt: StatusReceipt, log_pk: int, status: str) -> bool:
    """Link a stored receipt to its send, seen in ``status``, and move the send on if it is still open.

    Idempotent: the link is a conditional UPDATE on ``log IS NULL``, so two
    callers racing on the same receipt apply it once. Returns whether it linked.
    """
    alias = router.db_for_write(StatusReceipt)
    with transaction.atomic(using=alias):
        if not StatusReceipt.objects.using(alias).filter(pk=receipt.pk, log__isnull=True).update(log_id=log_pk):
            return False
        receipt.log_id = log_pk
        moved = _move(receipt, connections[alias], log_pk=log_pk, status=status)
    for change in moved:
        _announce(receipt, change)
    return True


# The receipt path's statements, written once per database connection from the models' metadata
# (quoted by the backend, so they follow the models). Raw because the ORM cannot say them: an INSERT
# that reads while it writes and returns what it read, and UPDATEs that return the rows they wrote.
_STORED = ("smsid", "mobile", "code", "msg", "report_time", "received_at", "raw")
_SET = ("status", "receipt_code", "receipt_msg", "delivered_at", "updated_at")
_sql_cache: dict[tuple[str, str, bool, bool], str] = {}


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


# Values every driver takes as they are; the rest (datetimes, JSON, choices) go through their field.
_PLAIN = (str, int, bool, type(None))


def _prepared(connection: BaseDatabaseWrapper, model: type[models.Model], name: str, value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    return _field(model, name).get_db_prep_save(value, connection)


def _column(connection: BaseDatabaseWrapper, model: type[models.Model], name: str, *, qualified: bool = False) -> str:
    quote = connection.ops.quote_name
    column = quote(str(_field(model, name).column))
    return f"{quote(model._meta.db_table)}.{column}" if qualified else column


def _insert_sql(connection: BaseDatabaseWrapper, *, linked: bool) -> str:
    key = ("insert", connection.alias, linked, False)
    if key not in _sql_cache:
        quote = connection.ops.quote_name
        table, log_table = quote(StatusReceipt._meta.db_table), quote(SmsLog._meta.db_table)

        def receipt(name: str, qualified: bool = False) -> str:
            return _column(connection, StatusReceipt, name, qualified=qualified)

        def log(name: str, qualified: bool = False) -> str:
            return _column(connection, SmsLog, name, qualified=qualified)

        columns = ", ".join(receipt(name) for name in (*_STORED, "duplicate", "log"))
        if linked:
            _sql_cache[key] = (
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * (len(_STORED) + 2))}) "
                f"ON CONFLICT DO NOTHING RETURNING {receipt('id', True)}"
            )
        else:
            identity = " AND ".join(f"{receipt(name)} = %s" for name in ("smsid", "mobile", "code", "report_time"))
            _sql_cache[key] = (
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_STORED))}, "
                f"EXISTS (SELECT 1 FROM {table} WHERE {identity} AND {receipt('duplicate')} = %s), "
                f"(SELECT {log('id')} FROM {log_table} WHERE {log('smsid')} = %s AND {log('mobile')} = %s "
                f"ORDER BY {log('id')} LIMIT 1)) ON CONFLICT DO NOTHING RETURNING "
                f"{receipt('id', True)}, {receipt('duplicate', True)}, {receipt('log', True)}, "
                f"(SELECT {log('status')} FROM {log_table} WHERE {log('id', True)} = {receipt('log', True)})"
            )
    return _sql_cache[key]


def _update_sql(connection: BaseDatabaseWrapper, *, by_smsid: bool, full: bool) -> str:
    key = ("update", connection.alias, by_smsid, full)
    if key not in _sql_cache:

        def log(name: str) -> str:
            return _column(connection, SmsLog, name)

        where = f"{log('smsid')} = %s AND {log('mobile')} = %s" if by_smsid else f"{log('id')} = %s"
        returned = [field.name for field in SmsLog._meta.concrete_fields] if full else ["id"]
        _sql_cache[key] = (
            f"UPDATE {connection.ops.quote_name(SmsLog._meta.db_table)} "
            f"SET {', '.join(f'{log(name)} = %s' for name in _SET)} WHERE {where} AND {log('status')} = %s "
            f"RETURNING {', '.join(log(name) for name in returned)}"
        )
    return _sql_cache[key]


def _returning(
    connection: BaseDatabaseWrapper, model: type[models.Model], sql: str, params: list[Any], *, pk: int | None = None
) -> list[tuple[Any, ...]]:
    """Run an INSERT or UPDATE ending in ``RETURNING …``; returns the rows it returned.

    SQLite before 3.35 has no RETURNING: the statement runs without it and the
    row is read back (by ``pk``, or the inserted row's id). That read is exact:
    SQLite lets one connection write at a time, and this one holds the lock
    until its transaction ends.
    """
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql, params)
        else:
            statement, returned = sql.split(" RETURNING ", 1)
            cursor.execute(statement, params)
            if not cursor.rowcount:
                return []
            table, key = connection.ops.quote_name(model._meta.db_table), _column(connection, model, "id")
            cursor.execute(f"SELECT {returned} FROM {table} WHERE {key} = %s", [cursor.lastrowid if pk is None else pk])
        return cursor.fetchall()


# SmsLog's columns, each with the converters the ORM applies to it when it reads it (per database).
_converters: dict[str, list[tuple[int, list[Any], Any]]] = {}


def _logs(connection: BaseDatabaseWrapper, rows: list[tuple[Any, ...]]) -> list[SmsLog]:
    """``SmsLog`` instances from rows of every concrete column, in order, converted as the ORM converts them.

    Not ``raw()``: its planning of every query cost a third of a millisecond a statement here.
    """
    if connection.alias not in _converters:
        found = []
        for index, field in enumerate(SmsLog._meta.concrete_fields):
            column = field.get_col(SmsLog._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                found.append((index, converters, column))
        _converters[connection.alias] = found
    attnames = [field.attname for field in SmsLog._meta.concrete_fields]
    logs = []
    for row in rows:
        values = list(row)
        for index, converters, column in _converters[connection.alias]:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        logs.append(SmsLog.from_db(connection.alias, attnames, values))
    return logs


# -- upstream replies and opt-outs -------------------------------------------------------


def record_reply(event: ReplyEvent) -> tuple[UpstreamReply, bool]:
    """Store a reply push once; returns ``(reply, created)``.

    A retried push finds the stored reply and sends no second ``reply_received``.
    An opt-out word adds the number to ``OptOut``.
    """
    fingerprint = _fingerprint(event.mobile, event.content, event.smsid, event.reply_time.isoformat())
    log = None
    if event.smsid:
        log = SmsLog.objects.filter(smsid=event.smsid, mobile=event.mobile).order_by("pk").first()
    try:
        with transaction.atomic():
            reply = UpstreamReply.objects.create(
                mobile=event.mobile,
                content=event.content,
                smsid=event.smsid,
                reply_time=event.reply_time,
                log=log,
                is_opt_out=optouts.is_opt_out(event.content),
                fingerprint=fingerprint,
                raw=event.raw,
            )
            if reply.is_opt_out:
                optouts.opt_out(event.mobile, OptOut.Reason.REPLIED, reply=reply)
    except IntegrityError:
        return UpstreamReply.objects.get(fingerprint=fingerprint), False
    signals.reply_received.send(sender=UpstreamReply, reply=reply)
    return reply, True


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


# -- template reviews --------------------------------------------------------------------


def apply_template_review(event: TemplateEvent) -> tuple[SmsTemplate, bool]:
    """Record a template's review result; returns ``(template, changed)``.

    A template the provider knows but we never submitted (added in the vendor
    console) is recorded too, so the result is not lost. ``template_reviewed``
    is sent only when the status actually changes.
    """
    new_status = SmsTemplate.Status.APPROVED if event.approved else SmsTemplate.Status.REJECTED
    templates = SmsTemplate.objects.filter(templateid=event.templateid)
    if event.product:
        templates = templates.filter(product=event.product)
    with transaction.atomic():
        if not templates.exists():
            try:
                with transaction.atomic():
                    SmsTemplate.objects.create(
                        product=event.product or "sms", templateid=event.templateid, content=""
                    )
            except IntegrityError:
                pass
        changed = templates.exclude(status=new_status, review_msg=event.msg[:255]).update(
            status=new_status, review_msg=event.msg[:255], reviewed_at=timezone.now()
        )
        # Read in the transaction: should the read fail, the change is undone with it, and the
        # provider's retry makes it (and sends the signal) again; read after, it would be lost.
        template = templates.earliest("pk")  # there is one: it existed, or was created above
    if changed:
        signals.template_reviewed.send(sender=SmsTemplate, template=template)
    return template, bool(changed)
