from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...balances import BalanceReading, check_balances
from ...conf import huyi_settings
from ...exceptions import HuyiError
from ...provider import PRODUCTS
from ...sending import get_balance

#: ``--check``'s exit statuses besides 0 (every balance read, none low), for cron and monitoring.
EXIT_LOW = 1
EXIT_UNREAD = 2


class Command(BaseCommand):
    help = (
        "Print how many messages the account has left. With --check: read every configured product's "
        "balance, ring the low-balance alarm (balance_low, a mail to ADMINS) on a fall under "
        "LOW_BALANCE_THRESHOLD, and exit 1 when a balance is low, 2 when one cannot be read (for cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--product", choices=PRODUCTS, default=None, help="the product (default: sms)")
        parser.add_argument(
            "--check",
            action="store_true",
            help="read every configured product (or --product) and exit non-zero when one is low or unreadable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            self.check_products(options["product"])
            return
        product = options["product"] or "sms"
        try:
            balance = get_balance(product)
        except HuyiError as exc:
            raise CommandError(f"balance unavailable: {exc}") from None
        line = f"{product}: {balance}"
        if balance < huyi_settings.LOW_BALANCE_THRESHOLD:
            self.stdout.write(self.style.WARNING(f"{line} (under {huyi_settings.LOW_BALANCE_THRESHOLD})"))
        else:
            self.stdout.write(line)

    def check_products(self, product: str | None) -> None:
        readings = check_balances()
        if product is not None:
            readings = [reading for reading in readings if reading.product == product]
        if not readings:
            which = product or "any product"
            raise CommandError(
                f"nothing to check: {which} has no ACCOUNT and API_KEY (see HUYI_SMS and its PRODUCTS)",
                returncode=EXIT_UNREAD,
            )
        for reading in readings:
            self.stdout.write(_line(reading, self.style))
        unread = [reading.product for reading in readings if not reading.ok]
        low = [reading.product for reading in readings if reading.low]
        problems = []
        if low:
            problems.append(f"balance low: {', '.join(low)} (under {huyi_settings.LOW_BALANCE_THRESHOLD})")
        if unread:
            problems.append(f"balance unavailable: {', '.join(unread)}")
        if problems:
            raise CommandError("; ".join(problems), returncode=EXIT_UNREAD if unread else EXIT_LOW)


def _line(reading: BalanceReading, style: Any) -> str:
    if not reading.ok:
        return style.ERROR(f"{reading.product}: could not be read: {reading.error}")
    if reading.low:
        return style.WARNING(f"{reading.product}: {reading.balance} LOW (under {reading.threshold})")
    return f"{reading.product}: {reading.balance} (threshold {reading.threshold})"
