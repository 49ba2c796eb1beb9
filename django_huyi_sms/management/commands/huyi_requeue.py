from __future__ import annotations

import math
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import huyi_settings
from ...sending import requeue


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise CommandError(f"--older-than: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise CommandError(f"--older-than: {value!r} must be a positive number of seconds")
    return seconds


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise CommandError(f"--limit: {value!r} is not a whole number") from None
    if count <= 0:
        raise CommandError(f"--limit: {value!r} must be at least 1")
    return count


class Command(BaseCommand):
    help = (
        "Hand queued messages that no worker took back to the queue, and mark 'unknown' those a worker "
        "took and never finished (they may have been sent, so they are not sent again). Safe to run "
        "at any time and from several machines at once; run it every few minutes (cron, Celery beat)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            default=None,
            metavar="SECONDS",
            help=f'only rows waiting or in flight this long (default QUEUE["STALE_AFTER"], '
            f'now {huyi_settings.QUEUE["STALE_AFTER"]})',
        )
        parser.add_argument("--limit", default=None, metavar="N", help="at most this many rows (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = _seconds(options["older_than"]) if options["older_than"] is not None else None
        limit = _count(options["limit"]) if options["limit"] is not None else None
        if older_than is not None and older_than <= huyi_settings.TIMEOUT:
            raise CommandError(
                f"--older-than: {older_than:g} s is not longer than TIMEOUT ({huyi_settings.TIMEOUT} s): "
                "a message still being sent would be marked unknown"
            )
        result = requeue(older_than=older_than, limit=limit)
        plural = "" if result.handed_out == 1 else "s"
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.handed_out} queued message{plural} handed out again, {result.unknown} marked unknown"
            )
        )
