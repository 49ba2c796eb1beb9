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
from typing import TYPE_CHECKING, Any, TypeVar, cast

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


def apply_receipt(event: ReceiptEvent) -> StatusReceipt:
    """Store a receipt push and apply it to its send if that send is known.

    Returns the stored receipt (``receipt.log`` is ``None`` while its send is
    not known yet). Sends ``sms_status_changed`` once per real transition,
    after the commit. Raises ``DatabaseError`` if it cannot be stored (the push
    view answers 503, and the provider pushes it again).

    The statements it runs (BEGIN and COMMIT aside), and why none can go:

    * **A receipt for a known, open send: 2, in one transaction.** The INSERT
      keeps the raw push, labels it a duplicate if an original is stored
      (``EXISTS`` on the unique key; ``ON CONFLICT DO NOTHING`` catches a copy
      committed in between, and the INSERT is run again), links the send
      found by smsid and number, and returns that send's status, all in one
      statement. The UPDATE moves the status on only if it is still the one
      read (compare-and-set: a writer in between makes it match nothing, and
      the status is read again), and returns the row for the signal. The
      raw push and the status it caused commit together, or not at all.
    * **A duplicate, or a receipt for a send already final: 1.** The INSERT's
      status says there is nothing to move.
    * **An early receipt (no send has its smsid yet): 4.** The INSERT and the
      mark on the number's queued sends commit together; then one look by
      smsid and one for an unknown send to the number (two index lookups, on
      two different indexes). The look must come after the commit: a send
      recorded inside its caller's transaction looks for its receipts when
      that commits, and must find this one if this look missed it.
    """
    alias = router.db_for_write(StatusReceipt)
    with transaction.atomic(using=alias):
        receipt = _store(event, alias)
        if receipt.log_id is None:
            # A send to this number may have this smsid in hand and not recorded yet: mark it.
            # In this transaction: its sender sees the mark only once the receipt is visible too.
            SmsLog.objects.using(alias).filter(mobile=event.mobile, status=SmsLog.Status.QUEUED).update(
                receipt_waiting=True
            )
            moved = None
        else:
            moved = _move(receipt, receipt.log_id, getattr(receipt, "send_status", None), alias)
    if moved is not None:
        receipt.log = moved[0]
        _announce(receipt, *moved)
    elif receipt.log_id is None:
        log = _sent_with(event.smsid, event.mobile) or match_unknown(event.mobile)
        if log is None:
            logger.info("receipt for unknown smsid %s (%s) kept for later", event.smsid, mask_mobile(event.mobile))
        else:
            _match(receipt, log.pk, log.status)  # match_unknown may have linked it already: then a no-op
            receipt.log_id = log.pk
    return receipt


def _store(event: ReceiptEvent, alias: str) -> StatusReceipt:
    """INSERT the receipt; returns it with ``send_status``, the status of the send it is linked to (or ``None``)."""
    connection = connections[alias]
    sql = _insert_sql(connection)
    values = {
        "smsid": event.smsid,
        "mobile": event.mobile,
        "code": event.code,
        "msg": event.msg[:255],
        "report_time": event.report_time,
        "received_at": timezone.now(),
        "raw": event.raw,
    }
    prepared = {name: _prepared(connection, StatusReceipt, name, value) for name, value in values.items()}
    key = [prepared[name] for name in ("smsid", "mobile", "code", "report_time")]
    params = [*prepared.values(), *key, False, event.smsid, event.mobile]
    # At most a second time: nothing came in between, or an identical copy committed after this
    # statement's snapshot, so that it did not see the original it collided with; now it does.
    for _attempt in range(2):
        rows = _written(StatusReceipt, alias, sql, params)
        if rows:
            return rows[0]
    raise IntegrityError("the receipt collided twice with an original that is not there")


def _move(receipt: StatusReceipt, log_pk: int, status: str | None, alias: str) -> tuple[SmsLog, str] | None:
    """Move the send ``log_pk``, last seen in ``status``, to the receipt's final status while it is open.

    Returns ``(log, old_status)`` for the signal, or ``None`` when it was final
    already. A compare-and-set on the status seen: the status only moves
    forward, so a writer in between is retried at most twice.
    """
    sql = _update_sql(connections[alias])
    new_status = SmsLog.Status.DELIVERED if receipt.delivered else SmsLog.Status.UNDELIVERED
    connection = connections[alias]
    changes = [
        new_status,
        receipt.code,
        receipt.msg,
        _prepared(connection, SmsLog, "delivered_at", receipt.report_time),
        _prepared(connection, SmsLog, "updated_at", timezone.now()),
    ]
    while status in _OPEN_STATUSES:
        rows = _written(SmsLog, alias, sql, [*changes, log_pk, status], pk=log_pk)
        if rows:
            return rows[0], status
        status = SmsLog.objects.using(alias).filter(pk=log_pk).values_list("status", flat=True).first()
    return None


def _announce(receipt: StatusReceipt, log: SmsLog, old_status: str) -> None:
    logger.info("SMS %s to %s: %s → %s", log.pk, mask_mobile(log.mobile), old_status, log.status)
    signals.sms_status_changed.send(
        sender=SmsLog, log=log, old_status=old_status, new_status=log.status, receipt=receipt
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
    the commit of a send made inside a transaction. Returns how many receipts were matched.
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
        moved = _move(receipt, log_pk, status, alias)
    receipt.log_id = log_pk
    if moved is not None:
        receipt.log = moved[0]
        _announce(receipt, *moved)
    return True


# The receipt path's two statements, written once per database connection from the models' metadata
# (quoted by the backend, so they follow the models). Raw because the ORM cannot say either: an INSERT
# that reads while it writes and returns what it read, and an UPDATE that returns the row it wrote.
_sql_cache: dict[tuple[str, str], str] = {}


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


def _prepared(connection: BaseDatabaseWrapper, model: type[models.Model], name: str, value: Any) -> Any:
    return _field(model, name).get_db_prep_save(value, connection)


def _column(connection: BaseDatabaseWrapper, model: type[models.Model], name: str, *, qualified: bool = False) -> str:
    quote = connection.ops.quote_name
    column = quote(str(_field(model, name).column))
    return f"{quote(model._meta.db_table)}.{column}" if qualified else column


def _insert_sql(connection: BaseDatabaseWrapper) -> str:
    key = ("insert", connection.alias)
    if key not in _sql_cache:
        quote = connection.ops.quote_name
        table, log_table = quote(StatusReceipt._meta.db_table), quote(SmsLog._meta.db_table)

        def receipt(name: str, qualified: bool = False) -> str:
            return _column(connection, StatusReceipt, name, qualified=qualified)

        def log(name: str, qualified: bool = False) -> str:
            return _column(connection, SmsLog, name, qualified=qualified)

        written = ("smsid", "mobile", "code", "msg", "report_time", "received_at", "raw", "duplicate", "log")
        identity = " AND ".join(f"{receipt(name)} = %s" for name in ("smsid", "mobile", "code", "report_time"))
        returned = ", ".join(receipt(field.name, True) for field in StatusReceipt._meta.concrete_fields)
        _sql_cache[key] = (
            f"INSERT INTO {table} ({', '.join(receipt(name) for name in written)}) VALUES ({', '.join(['%s'] * 7)}, "
            f"EXISTS (SELECT 1 FROM {table} WHERE {identity} AND {receipt('duplicate')} = %s), "
            f"(SELECT {log('id')} FROM {log_table} WHERE {log('smsid')} = %s AND {log('mobile')} = %s "
            f"ORDER BY {log('id')} LIMIT 1)) "
            f"ON CONFLICT DO NOTHING RETURNING {returned}, "
            f"(SELECT {log('status')} FROM {log_table} WHERE {log('id', True)} = {receipt('log', True)}) AS send_status"
        )
    return _sql_cache[key]


def _update_sql(connection: BaseDatabaseWrapper) -> str:
    key = ("update", connection.alias)
    if key not in _sql_cache:
        changed = ("status", "receipt_code", "receipt_msg", "delivered_at", "updated_at")
        assignments = ", ".join(f"{_column(connection, SmsLog, name)} = %s" for name in changed)
        returned = ", ".join(_column(connection, SmsLog, field.name) for field in SmsLog._meta.concrete_fields)
        _sql_cache[key] = (
            f"UPDATE {connection.ops.quote_name(SmsLog._meta.db_table)} SET {assignments} "
            f"WHERE {_column(connection, SmsLog, 'id')} = %s AND {_column(connection, SmsLog, 'status')} = %s "
            f"RETURNING {returned}"
        )
    return _sql_cache[key]


_M = TypeVar("_M", StatusReceipt, SmsLog)


@dataclass(frozen=True)
class _Reader:
    """How to make instances of a model from the columns a statement returns: the fields' attnames
    with each column's converters (as the ORM applies them), and the names of the other columns."""

    attnames: list[str]
    converters: list[tuple[int, list[Any], Any]]
    extras: list[tuple[int, str]]


_readers: dict[tuple[type[models.Model], str, tuple[str, ...]], _Reader] = {}


def _reader(model: type[models.Model], connection: BaseDatabaseWrapper, names: tuple[str, ...]) -> _Reader:
    key = (model, connection.alias, names)
    if key not in _readers:
        by_column = {field.column: field for field in model._meta.concrete_fields}
        reader = _Reader([], [], [])
        for index, name in enumerate(names):
            field = by_column.get(name)
            if field is None:
                reader.extras.append((index, name))
                continue
            reader.attnames.append(field.attname)
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                reader.converters.append((index, converters, column))
        _readers[key] = reader
    return _readers[key]


def _written(model: type[_M], alias: str, sql: str, params: list[Any], *, pk: int | None = None) -> list[_M]:
    """Run an INSERT or UPDATE ending in ``RETURNING …`` and return the rows it wrote as instances.

    The values are converted as the ORM converts them (each field's
    converters), without ``raw()``'s planning, which cost a third of a
    millisecond a statement here. SQLite before 3.35 has no RETURNING: the
    statement runs without it and the row is read back (by ``pk``, or the
    inserted row's id). That read is exact: SQLite lets one connection write
    at a time, and this one holds the lock until its transaction ends.
    """
    connection = connections[alias]
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
        rows = cursor.fetchall()
        reader = _reader(model, connection, tuple(column[0] for column in cursor.description or ()))
    instances = []
    for row in rows:
        values = list(row)
        for index, converters, column in reader.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        extras = {name: values[index] for index, name in reader.extras}
        for index, _name in reversed(reader.extras):
            del values[index]
        instance = model.from_db(alias, reader.attnames, values)
        instance.__dict__.update(extras)
        instances.append(instance)
    return instances


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
    template = templates.earliest("pk")  # there is one: it existed, or was created above
    if changed:
        signals.template_reviewed.send(sender=SmsTemplate, template=template)
    return template, bool(changed)
