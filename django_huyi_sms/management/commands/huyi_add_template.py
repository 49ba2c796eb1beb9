from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import HuyiError
from ...provider import PRODUCTS
from ...sending import add_template


class Command(BaseCommand):
    help = "Submit a message template for review; variables are written 【变量】."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("content", help="the template text")
        parser.add_argument("--product", choices=PRODUCTS, default="sms")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            template = add_template(options["content"], product=options["product"])
        except HuyiError as exc:
            raise CommandError(f"not submitted: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"submitted: template id {template.templateid}, pending review"))
