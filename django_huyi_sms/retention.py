"""Retention: delete what is older than ``RETENTION_DAYS``, a batch at a time, while the site runs.

The body of ``manage.py huyi_purge`` and of the scheduled purge task. What goes, oldest
first, each kind of row in turn (the rows that point at a send go before the sends):

* one-time code records (``OtpRecord``) made before the cutoff, once expired: a live
  code is never deleted, whatever its age;
* delivery receipts (``StatusReceipt``) received before the cutoff, matched or not;
* replies (``UpstreamReply``) received before the cutoff (an opt-out they caused stays:
  ``OptOut`` is a person's standing wish, never purged; it just forgets the reply);
* sends (``SmsLog``) made before the cutoff, except a ``queued`` one (waiting for a
  worker, or in flight: ``huyi_requeue`` decides it first) and an ``unknown`` one that a
  late receipt could still match (``UNKNOWN_MATCH_WINDOW``);
* per-number code counts (``OtpThrottle``) last counted before the cutoff's day, and
  the site-wide counts (``SiteCodeCount``) of windows that ended before the cutoff.
  Kept: opt-outs, templates, users' numbers, the balance alarm's state.

Memory does not grow with the table: each batch is found by primary key ranges (the
key of the batch's last row, read with ``values_list``; never a list of all rows) and
deleted in its own short transaction, through Django's ``delete()`` so that foreign
keys from other models (``SET_NULL`` here, a site's own ``CASCADE`` or ``PROTECT``)
and delete signals are honoured. The rows it deletes are ones nothing reads or writes
any more, so it is safe to run while the site serves; a run that stops half-way has
deleted whole batches, and the next run carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from .conf import huyi_settings
from .models import BulkSend, OtpRecord, OtpThrottle, SiteCodeCount, SmsLog, StatusReceipt, UpstreamReply

__all__ = ["BATCH_SIZE", "MAX_BATCH_SIZE", "Progress", "PurgeResult", "Target", "TARGETS", "cutoff_for", "purge"]

logger = logging.getLogger("django_huyi_sms.retention")

#: Rows deleted in one transaction by default.
BATCH_SIZE = 1000
#: The most in one transaction: a batch holds its rows' locks until it commits.
MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Target:
    """One kind of row the purge deletes: ``old(cutoff, now)`` says which of its rows may go."""

    name: str
    model: type[models.Model]
    old: Callable[[datetime, datetime], Q]

    @property
    def label(self) -> str:
        return self.model._meta.label


def _old_sends(cutoff: datetime, now: datetime) -> Q:
    matchable = now - timedelta(seconds=huyi_settings.UNKNOWN_MATCH_WINDOW)
    return (
        Q(created_at__lt=cutoff)
        & ~Q(status=SmsLog.Status.QUEUED)
        & ~Q(status=SmsLog.Status.UNKNOWN, created_at__gte=matchable)
    )


def _old_throttles(cutoff: datetime, now: datetime) -> Q:
    # The day of its last count is over, and so is any resend interval from it.
    return Q(day__lt=timezone.localdate(cutoff)) & (Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=cutoff))


#: What the purge deletes, in this order.
def _old_bulk_sends(cutoff: datetime, now: datetime) -> Q:
    # Only once every message of it goes too (a scheduled one keeps its queued rows, and so its bulk send).
    kept = SmsLog.objects.filter(bulk__isnull=False).exclude(_old_sends(cutoff, now)).values("bulk_id")
    return Q(created_at__lt=cutoff) & ~Q(pk__in=kept)


TARGETS: tuple[Target, ...] = (
    Target("one-time codes", OtpRecord, lambda cutoff, now: Q(created_at__lt=cutoff, expires_at__lt=now)),
    Target("delivery receipts", StatusReceipt, lambda cutoff, now: Q(received_at__lt=cutoff)),
    Target("replies", UpstreamReply, lambda cutoff, now: Q(received_at__lt=cutoff)),
    Target("SMS logs", SmsLog, _old_sends),
    Target("bulk sends", BulkSend, lambda cutoff, now: _old_bulk_sends(cutoff, now)),
    Target("per-number code counts", OtpThrottle, _old_throttles),
    Target("site-wide code counts", SiteCodeCount, lambda cutoff, now: Q(started_at__lt=cutoff - timedelta(days=1))),
)


@dataclass(frozen=True)
class Progress:
    """Where a purge is: ``deleted`` of ``total`` rows of ``target`` so far (a dry run: ``deleted`` is 0)."""

    target: Target
    deleted: int
    total: int


@dataclass
class PurgeResult:
    """What :func:`purge` deleted (or, with ``dry_run``, would delete): rows per model label."""

    cutoff: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def cutoff_for(days: int | None = None, *, now: datetime | None = None) -> datetime:
    """The moment before which rows go: ``days`` (default ``RETENTION_DAYS``) before ``now``."""
    days = huyi_settings.RETENTION_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number, 1 or more, not {days!r}")
    return (now or timezone.now()) - timedelta(days=days)


def purge(
    *,
    days: int | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> PurgeResult:
    """Delete the rows of :data:`TARGETS` older than ``days`` (default ``RETENTION_DAYS``), ``batch_size`` at a time.

    Each batch is its own transaction (when called outside one). ``dry_run``
    counts what would go and deletes nothing. ``progress`` is called after each
    batch (and once per target on a dry run). Raises ``ValueError`` for a
    ``days`` or ``batch_size`` out of range, and Django's ``ProtectedError`` /
    ``RestrictedError`` when a model of the site protects a row (the batches
    before it stay deleted).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be a whole number from 1 to {MAX_BATCH_SIZE}, not {batch_size!r}")
    now = timezone.now()
    cutoff = cutoff_for(days, now=now)
    result = PurgeResult(cutoff=cutoff, dry_run=dry_run)
    for target in TARGETS:
        result.counts[target.label] = _purge(target, target.old(cutoff, now), batch_size, dry_run, progress)
    if not dry_run:
        logger.info("purge of rows before %s: %d deleted", cutoff.isoformat(), result.total)
    return result


def _purge(
    target: Target, old: Q, batch_size: int, dry_run: bool, progress: Callable[[Progress], None] | None
) -> int:
    rows = target.model._default_manager.filter(old)
    # Rows that grow old after this aggregate wait for the next run: the loop stops at ``last``.
    summary = rows.aggregate(total=Count("pk"), last=Max("pk"))
    total, last = summary["total"], summary["last"]
    if dry_run or not total:
        if progress is not None:
            progress(Progress(target, 0, total))
        return total
    deleted = 0
    after = None
    while after is None or after < last:
        rest = rows if after is None else rows.filter(pk__gt=after)
        ends = list(rest.order_by("pk").values_list("pk", flat=True)[batch_size - 1 : batch_size])
        end = min(ends[0], last) if ends else last
        with transaction.atomic():
            _deleted, per_model = rest.filter(pk__lte=end).only("pk").delete()
        deleted += per_model.get(target.label, 0)
        after = end
        if progress is not None:
            progress(Progress(target, deleted, total))
    return deleted
