"""``manage.py huyi_send_bulk FILE CONTENT``: a marketing message to every number of a file.

The file holds one number a line, or is a CSV (its name ends in ``.csv``, or
``--column`` is given) with the numbers in one column. A first line without a
digit in it is a header and skipped; blank lines are skipped. Every number is
checked before anything is written: one that is not a mobile number stops the
command, naming its line, and nothing is sent. Then the send is recorded and
handed to the queue (``send_bulk``), and the command follows it until every
message has left the queue (``--no-wait``: it does not).

The progress bars are tqdm's: small, no dependencies of its own, and quiet when
the output is not a terminal (cron, CI logs), where a bar would only be noise.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import dateparse, timezone
from tqdm import tqdm

from ... import bulk, signals, tasks
from ...exceptions import HuyiError, InvalidMobiles
from ...models import BulkSend, SmsLog
from ...provider import CHINA, PRODUCTS, TIME_FORMAT, mask_mobile

#: Bad numbers named with their line; the rest are counted.
NAMED_LINES = 20
#: Seconds between two looks at a bulk send that workers elsewhere are sending.
POLL_INTERVAL = 0.5


class Command(BaseCommand):
    help = (
        "Send CONTENT to every number in FILE (one a line, or a CSV column) through the queue, "
        "as a marketing message by default: opted-out numbers are skipped, the unsubscribe text "
        "appended, numbers batched per request. Shows progress while it reads, records and sends."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the numbers: one a line, or a CSV file (see --column)")
        parser.add_argument("content", help="the message text, signature included if your account needs one")
        parser.add_argument(
            "--at",
            default=None,
            metavar="TIME",
            help='have the provider send it at this time: "2030-01-01 09:00" (TIME_ZONE, or an offset '
            'such as "2030-01-01T09:00+08:00"); marketing only',
        )
        parser.add_argument("--product", choices=PRODUCTS, default="marketing")
        parser.add_argument(
            "--column",
            default=None,
            metavar="COLUMN",
            help="read the file as CSV and take the numbers from this column: a number from 1, or the "
            "header's name for it (default: the first column of a .csv file)",
        )
        parser.add_argument(
            "--encoding",
            default="utf-8-sig",
            help="the file's encoding (default UTF-8, with or without a BOM; Excel in China saves CSV as gbk)",
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="return once the send is recorded and queued, without following it",
        )
        parser.add_argument(
            "--wait",
            default=None,
            metavar="SECONDS",
            help="follow the send at most this long (default: until every message has left the queue)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scheduled_at = _scheduled_at(options["at"]) if options["at"] is not None else None
        wait = _seconds(options["wait"]) if options["wait"] is not None else None
        progress_file = getattr(self.stderr, "_out", sys.stderr)  # the bars redraw a line: no added endings
        mobiles, lines = self._read(options, progress_file)
        try:
            plan = bulk.plan_bulk(mobiles, options["content"], scheduled_at=scheduled_at, product=options["product"])
        except InvalidMobiles as error:
            raise CommandError(_bad_lines(error, mobiles, lines, options["file"])) from None
        except HuyiError as error:
            raise CommandError(f"not sent: {error}") from None
        except (TypeError, ValueError) as error:
            raise CommandError(f"not sent: {error}") from None
        del mobiles, lines

        with _Following(progress_file) as following:
            recording = following.bar("recording", len(plan.numbers), "number")

            def recorded(written: int, total: int) -> None:
                recording.total = total
                recording.update(written - recording.n)

            sent = bulk.start_bulk(plan, progress=recorded)
            recording.close()
            self.stdout.write(_summary(sent))
            if not options["no_wait"] and sent.recipients:
                following.until_sent(sent, wait)
        self._report(sent, waited=not options["no_wait"])

    # -- reading ----------------------------------------------------------------------------------

    def _read(self, options: dict[str, Any], progress_file: Any) -> tuple[list[str], list[int]]:
        """The numbers of the file (as written) and the line each is on, read once, with a bar."""
        path, column = options["file"], options["column"]
        as_csv = column is not None or path.lower().endswith(".csv")
        encoding = options["encoding"]
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CommandError(f"--encoding: {encoding!r} is not an encoding Python knows") from None
        try:
            size = os.path.getsize(path)
            raw = open(path, "rb")  # noqa: SIM115  closed with the text wrapper below
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from None
        except ValueError:  # a NUL, or a lone surrogate that no file name can hold
            raise CommandError(f"{path!r}: not a file name") from None
        mobiles: list[str] = []
        lines: list[int] = []
        line = 0
        reading = tqdm(total=size, desc="reading", unit="B", unit_scale=True, file=progress_file, disable=None)
        with reading, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
            try:
                for line, cell in _cells(text, as_csv, column, path):
                    mobiles.append(cell)
                    lines.append(line)
                    if len(mobiles) % 1000 == 0:
                        reading.update(raw.tell() - reading.n)  # bytes the text layer has read so far
                reading.update(size - reading.n)
            except UnicodeDecodeError:
                raise CommandError(
                    f"{path}: not {encoding} text (near line {line + 1}); "
                    "pass its encoding, e.g. --encoding gbk for a CSV saved by Excel in China"
                ) from None
            except csv.Error as error:
                raise CommandError(f"{path}: not a CSV file (near line {line + 1}): {error}") from None
        if not mobiles:
            raise CommandError(f"{path}: no number in it; nothing was sent")
        return mobiles, lines

    # -- the end ----------------------------------------------------------------------------------

    def _report(self, sent: BulkSend, *, waited: bool) -> None:
        counts = sent.progress()
        done = ", ".join(f"{counts[status]} {status}" for status in counts if counts[status])
        self.stdout.write(f"bulk send #{sent.pk}: {done or 'nothing to send'}")
        failed, unknown, queued = counts["failed"], counts["unknown"], counts["queued"]
        if queued and waited:
            self.stdout.write(
                self.style.WARNING(f"{queued} still queued: the workers send them (follow it in the admin)")
            )
        elif queued:
            self.stdout.write(f"{queued} queued: the workers send them (follow it in the admin)")
        if failed or unknown:
            raise CommandError(
                f"bulk send #{sent.pk}: {failed} failed, {unknown} unknown (those may have been sent, and are "
                "not sent again); see the bulk send in the admin"
            )
        if not queued:
            self.stdout.write(self.style.SUCCESS(f"bulk send #{sent.pk}: every message has left"))


def _cells(text: io.TextIOWrapper, as_csv: bool, column: str | None, path: str) -> Iterator[tuple[int, str]]:
    """``(line, number as written)`` for each number of the file; headers and blank lines left out."""
    by_name = column is not None and not column.strip().isdigit()
    index = int(column) - 1 if column is not None and not by_name else 0
    if index < 0:
        raise CommandError("--column: columns are numbered from 1")
    rows: Iterator[tuple[int, list[str]]]
    if as_csv:
        reader = csv.reader(text)
        rows = ((reader.line_num, row) for row in reader)  # line_num: the row's last line
    else:
        rows = ((number, [line]) for number, line in enumerate(text, start=1))
    first = True
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if first:
            first = False
            if by_name:
                index = _header_index(row, str(column), path)
                continue  # that row was the header
            if not any(character.isdigit() for character in _cell(row, index)):
                continue  # a header
        cell = _cell(row, index).strip()
        if cell:
            yield line, cell


def _header_index(row: list[str], column: str, path: str) -> int:
    names = [cell.strip().casefold() for cell in row]
    if column.strip().casefold() in names:
        return names.index(column.strip().casefold())
    raise CommandError(f"--column: {path} has no column {column!r} in its first line ({', '.join(row)})")


def _cell(row: list[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def _bad_lines(error: InvalidMobiles, mobiles: list[str], lines: list[int], path: str) -> str:
    shown = [
        f"  line {lines[position - 1]}: {mask_mobile(mobiles[position - 1])!r}"
        for position in error.positions[:NAMED_LINES]
    ]
    more = len(error.positions) - NAMED_LINES
    if more > 0:
        shown.append(f"  … and {more} more")
    count = len(error.positions)
    return (
        f"not sent: {count} of the {len(mobiles)} numbers in {path} {'is' if count == 1 else 'are'} not "
        "a mobile number; fix or remove them and run the command again:\n" + "\n".join(shown)
    )


def _summary(sent: BulkSend) -> str:
    parts = [f"bulk send #{sent.pk}: {sent.recipients} recipient(s) in {sent.batches} batch(es) of {sent.batch_size}"]
    if sent.opted_out:
        parts.append(f"{sent.opted_out} opted out (not sent)")
    if sent.duplicates:
        parts.append(f"{sent.duplicates} repeated (sent once)")
    if sent.scheduled_at is not None:
        parts.append(f"sent by the provider at {sent.scheduled_at.astimezone(CHINA).strftime(TIME_FORMAT)} China time")
    return "; ".join(parts)


def _scheduled_at(value: str) -> datetime:
    text = value.strip()
    try:
        parsed = dateparse.parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(f'--at: {value!r} is not a time such as "2030-01-01 09:00" or "2030-01-01T09:00+08:00"')
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise CommandError(f"--wait: {value!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise CommandError(f"--wait: {value!r} must be a number of seconds, 0 or more")
    return seconds


class _Following:
    """The bars of one run, and how the sending is followed: this process's signals, or the database."""

    def __init__(self, progress_file: Any) -> None:
        self.file = progress_file
        self.bars: list[tqdm] = []
        self.sending: tqdm | None = None

    def __enter__(self) -> _Following:
        # With a runner that sends in this process (Django's immediate backend), the messages go out
        # while start_bulk() commits: their signals move the bar. Workers elsewhere: the database does.
        for signal in (signals.sms_sent, signals.sms_failed, signals.sms_status_changed):
            signal.connect(self._sent, weak=False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signal in (signals.sms_sent, signals.sms_failed, signals.sms_status_changed):
            signal.disconnect(self._sent)
        for bar in self.bars:
            bar.close()

    def bar(self, desc: str, total: int | None, unit: str) -> tqdm:
        # disable=None: drawn only on a terminal (tqdm asks the stream), never into a log file.
        bar = tqdm(total=total, desc=desc, unit=unit, file=self.file, dynamic_ncols=True, disable=None)
        self.bars.append(bar)
        return bar

    def _sent(self, sender: Any, log: SmsLog, **kwargs: Any) -> None:
        if log.bulk_id is None or kwargs.get("receipt") is not None:
            return  # not a bulk message, or a receipt: the message left before
        if self.sending is None:
            self.sending = self.bar("sending", BulkSend.objects.get(pk=log.bulk_id).recipients, "message")
        self.sending.update(1)

    def until_sent(self, sent: BulkSend, wait: float | None) -> None:
        """Follow ``sent`` until none of its messages is queued, ``wait`` seconds pass, or Ctrl-C."""
        bar = self.sending or self.bar("sending", sent.recipients, "message")
        if not tasks.runs_in_background():
            return  # sent already, in this process
        deadline = None if wait is None else time.monotonic() + wait
        try:
            while True:
                queued = sent.logs.filter(status=SmsLog.Status.QUEUED).count()
                bar.update(sent.recipients - queued - bar.n)
                if not queued or (deadline is not None and time.monotonic() >= deadline):
                    return
                time.sleep(POLL_INTERVAL)
        except KeyboardInterrupt:
            bar.write("stopped following; the workers go on sending")
