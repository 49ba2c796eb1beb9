from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import purposes, validation
from ...exceptions import HuyiError, HuyiTransportError
from ...provider import PRODUCTS
from ...sending import send_sms


class Command(BaseCommand):
    help = "Send one SMS now and print its smsid (a row is logged like any other send)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mobile", help="the recipient, e.g. 13800138000")
        parser.add_argument("content", help="the message text, signature included if your account needs one")
        parser.add_argument("--product", choices=PRODUCTS, default="sms")
        parser.add_argument(
            "--purpose",
            default="",
            help=f"a label stored on the log row (at most {purposes.MAX_LENGTH} characters)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # send_sms() refuses a bad purpose with a ValueError (a programming error in code);
        # from the shell it is a bad argument, so check it here and say so plainly.
        try:
            validation.validate_purpose(options["purpose"])
        except ValueError as exc:
            raise CommandError(f"not sent: --purpose: {exc}") from None
        try:
            log = send_sms(
                options["mobile"], options["content"], product=options["product"], purpose=options["purpose"]
            )
        except HuyiTransportError as exc:
            if exc.may_have_been_sent:
                # Saying "not sent" would invite a second try that doubles the message.
                raise CommandError(
                    f"outcome unknown: the request reached the provider (or may have) and no answer came, so it "
                    f"may have been sent; log #{exc.log.pk if exc.log else '?'} is 'unknown' and is not resent "
                    f"automatically. {exc}"
                ) from None
            raise CommandError(f"not sent: {exc}") from None
        except HuyiError as exc:
            raise CommandError(f"not sent: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(f"submitted: smsid {log.smsid}, {log.parts} part(s), log #{log.pk}")
        )
