from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from ...conf import huyi_settings
from ...retention import BATCH_SIZE, MAX_BATCH_SIZE, TARGETS, Progress, cutoff_for, purge


def _whole(option: str, value: str, most: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a whole number") from None
    if number < 1 or (most is not None and number > most):
        within = f"from 1 to {most}" if most is not None else "1 or more"
        raise CommandError(f"{option}: {value!r} must be {within}")
    return number


class Command(BaseCommand):
    help = (
        "Delete sends, delivery receipts, replies and one-time code records older than RETENTION_DAYS, "
        "a batch at a time (each in its own transaction), printing progress. Never deletes a queued send "
        "or a live code; safe to run while the site serves. Run it daily (cron, Celery beat)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            default=None,
            metavar="N",
            help=f"delete what is older than N days (default RETENTION_DAYS, now {huyi_settings.RETENTION_DAYS})",
        )
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
        parser.add_argument(
            "--batch-size",
            default=str(BATCH_SIZE),
            metavar="N",
            help=f"rows deleted per transaction, 1 to {MAX_BATCH_SIZE} (default {BATCH_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = _whole("--days", options["days"]) if options["days"] is not None else huyi_settings.RETENTION_DAYS
        batch_size = _whole("--batch-size", options["batch_size"], MAX_BATCH_SIZE)
        self.dry_run = dry_run = options["dry_run"]
        self.verbosity = options["verbosity"]
        cutoff = cutoff_for(days)
        when = f"{timezone.localtime(cutoff):%Y-%m-%d %H:%M %Z}"
        if dry_run:
            self.say(f"Dry run, nothing is deleted. Older than {days} days (before {when}):")
        else:
            self.say(f"Deleting what is older than {days} days (before {when}), {batch_size:,} rows at a time:")
        started = time.monotonic()
        try:
            result = purge(days=days, batch_size=batch_size, dry_run=dry_run, progress=self.report)
        except (ProtectedError, RestrictedError) as error:
            raise CommandError(f"stopped: {error.args[0]} (the batches before it are deleted)") from None
        seconds = time.monotonic() - started
        names = {target.label: target.name for target in TARGETS}
        summary = ", ".join(f"{count:,} {names[label]}" for label, count in result.counts.items())
        if dry_run:
            self.say(f"Would delete {result.total:,} rows: {summary}.")
        else:
            self.say(self.style.SUCCESS(f"Deleted {result.total:,} rows in {seconds:.1f} s: {summary}."))

    def report(self, progress: Progress) -> None:
        name = progress.target.name
        if self.dry_run:
            self.say(f"  {name}: {progress.total:,} would be deleted")
        elif progress.total == 0:
            self.say(f"  {name}: none")
        else:
            self.say(f"  {name}: {progress.deleted:,} of {progress.total:,} deleted")

    def say(self, line: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(line)
