"""``manage.py huyi_sandbox``: run the sandbox gateway as its own web server until Ctrl-C."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import huyi_settings
from ...sandbox.config import SandboxConfig, SandboxConfigError
from ...sandbox.gateway import SandboxGateway
from ...sandbox.inbox import SandboxMessage
from ...sandbox.pages import way_back
from ...sandbox.paths import Links
from ...sandbox.standalone import pages_app
from ...sandbox.state import config_from_settings, setting_problem
from ...sandbox.wire import ROUTES
from ...sandbox.wsgi import serve

# Options named after the SandboxConfig fields they override (--receipt-url: receipt_url).
_OVERRIDES = ("receipt_url", "reply_url", "template_url", "retry_scale", "receipt_delay")


class Command(BaseCommand):
    help = (
        "Run the ihuyi sandbox gateway: it answers Submit / GetNum / AddTemplate as the provider does "
        'and pushes delivery receipts. Settings come from HUYI_SMS["SANDBOX"]; options override them.'
    )
    # It touches no database and no models: let it start on a half-configured project.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument(
            "--port", type=int, default=8001, help="Port to listen on (default 8001; 0 = any free port)."
        )
        parser.add_argument("--receipt-url", help="Push delivery receipts here (overrides SANDBOX RECEIPT_URL).")
        parser.add_argument("--reply-url", help="Push upstream replies here (overrides SANDBOX REPLY_URL).")
        parser.add_argument("--template-url", help="Push template reviews here (overrides SANDBOX TEMPLATE_URL).")
        parser.add_argument(
            "--retry-scale", type=float, help="Multiply the 60 s / 120 s push retry intervals (e.g. 0.01)."
        )
        parser.add_argument("--receipt-delay", type=float, help="Seconds between an accepted send and its receipt.")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not host.strip():
            # socketserver reads "" as every interface, and the sandbox takes made-up credentials:
            # listening on every interface must be asked for by name.
            raise CommandError(
                "--host is empty, which would listen on every interface: give the address to listen on, "
                "such as 127.0.0.1 (or 0.0.0.0 if every interface is what you mean)"
            )
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {port}")
        gateway = SandboxGateway(_config(options), on_message=self._print_message)
        origin = _site_origin(gateway)
        home, login = way_back(origin) if origin else ("", "")
        try:
            server, thread = serve(gateway, host, port, pages=pages_app(gateway, Links("/", home=home, login=login)))
        except OSError as exc:
            gateway.close()
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        try:
            self._print_banner(gateway, f"http://{_url_host(host)}:{server.server_address[1]}")
            # Wait on the server thread in short slices so that Ctrl-C reaches this thread.
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the sandbox.")
        finally:
            server.shutdown()
            server.server_close()
            gateway.close()

    def _print_banner(self, gateway: SandboxGateway, base_url: str) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"ihuyi sandbox gateway listening on {base_url}/"))
        write("Endpoints (?method=Submit, GetNum, AddTemplate):")
        for route, product in ROUTES.items():
            write(f"  {product:<13} {base_url}/{route}")
        write(f"Phone pages (what each number received, and its latest code): {base_url}/")
        write(f"  one number: {base_url}/phone/<mobile>/   as JSON: {base_url}/phone/<mobile>.json")
        write("Accounts (sandbox keys, valid for every product):")
        for account, key in gateway.accounts.items():
            write(f"  APIID {account}   APIKEY {key}   balance {gateway.balance(account)}")
        for label, url in (
            ("delivery receipts", gateway.receipt_url),
            ("replies", gateway.reply_url),
            ("template reviews", gateway.template_url),
        ):
            # The URLs are the developer's own, but may carry a callback token: show only where they go.
            write(f"Pushing {label} to: {_without_query(url) if url else '(nowhere)'}")
        write("Quit with CONTROL-C.")

    def _print_message(self, message: SandboxMessage) -> None:
        # The sandbox's codes are fake and this is the developer's own terminal: showing the number
        # and the text (the code to type in) is the point of the sandbox.
        self.stdout.write(f"[{message.product}] {message.mobile} smsid {message.smsid}: {message.content}")


def _config(options: dict[str, Any]) -> SandboxConfig:
    """HUYI_SMS["SANDBOX"] with the options given on top; raises CommandError naming the option or the setting."""
    overrides = {name.upper(): options[name] for name in _OVERRIDES if options.get(name) is not None}
    try:
        return config_from_settings(overrides)
    except ImproperlyConfigured as exc:  # HUYI_SMS itself has an error (manage.py check names it)
        raise CommandError(str(exc)) from None
    except SandboxConfigError as exc:
        if exc.field is not None and exc.setting in overrides:
            raise CommandError(f"--{exc.field.replace('_', '-')} {exc.problem}") from None
        raise CommandError(setting_problem(exc)) from None


def _site_origin(gateway: SandboxGateway) -> str:
    """Where the site this sandbox serves answers: ``SANDBOX_SITE``, else where receipts go; ``""``: unknown.

    The pages link back to it (its home page, the app's sign-in page).
    """
    try:
        site = huyi_settings.SANDBOX_SITE
    except ImproperlyConfigured:
        site = ""
    if site:
        return str(site)
    parts = urlsplit(gateway.receipt_url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.scheme and parts.netloc else ""


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]
