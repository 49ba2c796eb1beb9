"""Applying the provider's pushes: delivery receipts, upstream replies, template reviews.

The only module that writes ``StatusReceipt`` and ``UpstreamReply``
rows and moves an ``SmsLog`` past ``submitted``. The push views parse and
authenticate; they hand a small event object here.

Two rules shape this module:

* **The status only moves forward.** Every transition is a conditional
  ``UPDATE … WHERE status IN (…)``; the first final status wins, and a retried,
  late or out-of-order receipt changes nothing and sends no second signal.
* **Nothing is lost to the race between a fast receipt and our own send,
  and the send does not pay for it.** The provider may push a receipt before
  ``sending.py`` has stored the ``smsid`` it just got back. The receipt is
  stored (committed) and looked for by smsid; when no send has it, every
  ``queued`` send to that number (one of them may be waiting for this very
  answer) is marked ``receipt_waiting`` in one UPDATE, and the send is looked
  for again. The sender records its answer with an UPDATE that only matches an
  unmarked row; on a marked one it records the answer anyway and then applies
  the waiting receipts. The two UPDATEs touch the same row, so the database
  orders them: if the sender's came first, the second look finds its smsid; if
  the mark came first, the sender sees it. Matching is idempotent, so both
  finding it is harmless, and a send never looks for receipts unless one waits.
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
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import optouts, signals
from .conf import huyi_settings
from .exceptions import ReceiptCode
from .models import OptOut, SmsLog, SmsTemplate, StatusReceipt, UpstreamReply
from .provider import mask_mobile

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
    not known yet). Sends ``sms_status_changed`` once per real transition.
    """
    values = {
        "smsid": event.smsid,
        "mobile": event.mobile,
        "code": event.code,
        "msg": event.msg[:255],
        "report_time": event.report_time,
        "raw": event.raw,
    }
    try:
        with transaction.atomic():
            receipt = StatusReceipt.objects.create(**values, duplicate=False)
    except IntegrityError:
        # The same receipt is stored already: a provider retry, or an identical copy that came at
        # the same moment (the unique key, not a look first, decides which one is the original).
        receipt = StatusReceipt.objects.create(**values, duplicate=True)
    # Committed; now look for the send (see the module docstring for why in this order).
    log = _sent_with(event.smsid, event.mobile)
    if log is None:
        # A send to this number may have this smsid in hand and not recorded yet: mark it.
        SmsLog.objects.filter(mobile=event.mobile, status=SmsLog.Status.QUEUED).update(receipt_waiting=True)
        log = _sent_with(event.smsid, event.mobile) or match_unknown(event.mobile)
    if log is not None:
        # Every receipt of this send still unlinked, not only this one: an earlier try of this push
        # may have been stored and then cut off by the database (answered 503), which makes this
        # try a duplicate; the original must not stay unmatched beside it.
        match_pending_receipts(log)
        receipt.refresh_from_db()
    else:
        logger.info("receipt for unknown smsid %s (%s) kept for later", event.smsid, mask_mobile(event.mobile))
    return receipt


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
    pending = list(
        StatusReceipt.objects.filter(smsid=log.smsid, mobile=log.mobile, log__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    matched = sum(1 for receipt_pk in pending if _match(receipt_pk, log.pk))
    if matched:
        log.refresh_from_db()
    return matched


def _match(receipt_pk: int, log_pk: int) -> bool:
    """Link one receipt to its log and move the log's status on if it is still open.

    Idempotent: the link is a conditional UPDATE on ``log IS NULL``, so two
    callers racing on the same receipt apply it once.
    """
    changed: tuple[SmsLog, str | None, StatusReceipt] | None = None
    with transaction.atomic():
        linked = StatusReceipt.objects.filter(pk=receipt_pk, log__isnull=True).update(log_id=log_pk)
        if not linked:
            return False
        receipt = StatusReceipt.objects.get(pk=receipt_pk)
        new_status = SmsLog.Status.DELIVERED if receipt.delivered else SmsLog.Status.UNDELIVERED
        # Lock the send's row: concurrent receipts for it queue here, and the
        # first one to get the lock decides its final status.
        old_status = SmsLog.objects.select_for_update().filter(pk=log_pk).values_list("status", flat=True).first()
        moved = SmsLog.objects.filter(pk=log_pk, status__in=_OPEN_STATUSES).update(
            status=new_status,
            receipt_code=receipt.code,
            receipt_msg=receipt.msg,
            delivered_at=receipt.report_time,
            updated_at=timezone.now(),
        )
        if moved:
            log = SmsLog.objects.get(pk=log_pk)
            changed = (log, old_status, receipt)
    if changed is not None:
        log, old_status, receipt = changed
        logger.info("SMS %s to %s: %s → %s", log.pk, mask_mobile(log.mobile), old_status, log.status)
        signals.sms_status_changed.send(
            sender=SmsLog, log=log, old_status=old_status, new_status=log.status, receipt=receipt
        )
    return True


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
