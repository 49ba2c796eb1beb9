from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import huyi_settings
from ...exceptions import HuyiError
from ...provider import PRODUCTS
from ...sending import get_balance


class Command(BaseCommand):
    help = "Print how many messages the account has left."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--product", choices=PRODUCTS, default="sms")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            balance = get_balance(options["product"])
        except HuyiError as exc:
            raise CommandError(f"balance unavailable: {exc}") from None
        line = f"{options['product']}: {balance}"
        if balance < huyi_settings.LOW_BALANCE_THRESHOLD:
            self.stdout.write(self.style.WARNING(f"{line} (under {huyi_settings.LOW_BALANCE_THRESHOLD})"))
        else:
            self.stdout.write(line)
