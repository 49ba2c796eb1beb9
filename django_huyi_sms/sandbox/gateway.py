"""A stand-in for ihuyi: answers Submit, GetNum and AddTemplate as the provider does.

:class:`SandboxGateway` holds the sandbox's state behind one lock and runs the
provider's checks in the provider's order: credentials, account, number and
text, sensitive words, templates and signatures, blacklist and per-number
limits, balance. The checks themselves live in ``rules.py`` and ``limits.py``,
the state in ``inbox.py`` and ``templates.py`` (see the package docstring).
Pure Python; no Django: ``wsgi.py`` and ``views.py`` both call :meth:`~SandboxGateway.handle`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from ..exceptions import RESULT_CODES, HuyiApiError, ResultCode, error_for_code
from ..provider import check_product
from ..validation import count_parts, validate_content, validate_template
from . import rules
from .config import DEFAULT_SENSITIVE_WORDS, SandboxConfig
from .inbox import (
    STATUS_DELIVERED,
    STATUS_SUBMITTED,
    STATUS_UNDELIVERED,
    Inbox,
    SandboxMessage,
    SandboxReply,
    code_in,
    phone_payload,
)
from .limits import RecipientLimits
from .pusher import Pusher, PushRecord
from .templates import SandboxTemplate, TemplateBook
from .wire import ROUTES, Request, china_time, new_smsid, read_request, refusal_fields, render

# Names that callers imported from this module before the sandbox was split by job.
__all__ = ["ROUTES", "DEFAULT_SENSITIVE_WORDS", "STATUS_SUBMITTED", "STATUS_DELIVERED", "STATUS_UNDELIVERED"]
__all__ += ["SandboxConfig", "SandboxMessage", "SandboxReply", "SandboxTemplate", "SandboxGateway"]
__all__ += ["china_time", "phone_payload"]

logger = logging.getLogger("django_huyi_sms.sandbox")


class _PushUrl:
    """A push URL read from the gateway's config; a test may point a running gateway elsewhere.

    Setting one checks it as the setting is checked (``SandboxConfigError``) and changes nothing else.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, gateway: SandboxGateway, owner: type | None = None) -> str:
        return str(getattr(gateway.config, self.name))

    def __set__(self, gateway: SandboxGateway, url: str) -> None:
        changed: dict[str, Any] = {self.name: url}
        gateway._config = replace(gateway.config, **changed)


class SandboxGateway:
    """The provider, in memory: its state, its lock, and the order its checks run in.

    ``config`` is a :class:`~.config.SandboxConfig`; or pass its fields as
    keyword arguments (``SandboxGateway(accounts={"id": "key"}, receipt_delay=0)``),
    which build one on top of ``config`` or the defaults. ``clock`` returns Unix
    seconds (tests pass one they move by hand); ``on_message`` is called with a
    copy of each accepted :class:`~.inbox.SandboxMessage` as it reaches its phone
    (a scheduled marketing message at its ``stime``), outside the lock.

    Raises :class:`~.config.SandboxConfigError` (a ``ValueError``) for an unusable setting.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        on_message: Callable[[SandboxMessage], None] | None = None,
        **settings: Any,
    ) -> None:
        config = config if config is not None else SandboxConfig()
        self._config = replace(config, **settings) if settings else config
        self.clock = clock
        self.on_message = on_message

        self._lock = threading.Lock()
        self._pusher = Pusher(retry_scale=self._config.retry_scale)
        self._balances = dict.fromkeys(self._config.accounts, self._config.balance)
        self._inbox = Inbox()
        self._limits = RecipientLimits(self._config)
        self._templates = TemplateBook(self._config.templates)
        self._scheduled: list[SandboxMessage] = []
        self._smsid_sequence = 0

    @property
    def config(self) -> SandboxConfig:
        """The settings this gateway runs with (read-only but for the push URLs below)."""
        return self._config

    receipt_url = _PushUrl()
    reply_url = _PushUrl()
    template_url = _PushUrl()

    # -- life cycle -------------------------------------------------------------

    def close(self) -> None:
        """Stop pushing; receipts and retries not yet sent are dropped."""
        self._pusher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every scheduled receipt and push (retries included) is done; False on timeout."""
        return self._pusher.wait_idle(timeout)

    def __enter__(self) -> SandboxGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(accounts={sorted(self._config.accounts)!r})"

    # -- the provider's API -------------------------------------------------------

    def handle(
        self, product: str, method: str, params: Mapping[str, Any], *, remote_addr: str = "127.0.0.1"
    ) -> tuple[str, bytes]:
        """Answer one API request as the provider would: ``(content_type, body)``.

        ``product`` is one of ``provider.PRODUCTS`` (see :data:`~.wire.ROUTES`),
        ``method`` the ``?method=`` value, ``params`` the request's fields.
        Every refusal is an answer with the provider's code, never an
        exception; an unknown method is answered as a failed Submit. Raises
        ``ValueError`` only for an unknown ``product`` (a programming error).
        """
        check_product(product)
        method = str(method or "")
        request = read_request(params)
        accepted: list[SandboxMessage] = []
        extra: dict[str, Any]
        code: int
        try:
            if method == "Submit":
                extra, accepted = self._submit(product, request, remote_addr)
            elif method == "GetNum":
                extra = self._get_num(request, remote_addr)
            elif method == "AddTemplate":
                extra = self._add_template(request, remote_addr)
            else:
                raise error_for_code(ResultCode.SUBMIT_FAILED, detail=f"unknown method {method[:40]!r}")
            code, msg = ResultCode.ACCEPTED, RESULT_CODES[ResultCode.ACCEPTED].zh
        except HuyiApiError as refusal:
            code, msg, extra = refusal.code or ResultCode.SUBMIT_FAILED, refusal.msg, refusal_fields(method)
        except Exception:  # the provider answers garbage with a code, never with a crash
            logger.exception("sandbox: %s %s failed", product, method[:40])
            code, msg = ResultCode.SUBMIT_FAILED, RESULT_CODES[ResultCode.SUBMIT_FAILED].zh
            extra = refusal_fields(method)
        for message in accepted:
            self._notify(message)
        return render(method, {"code": code, "msg": msg, **extra}, request.as_json)

    def _submit(self, product: str, request: Request, remote_addr: str) -> tuple[dict[str, Any], list[SandboxMessage]]:
        config = self._config
        account = rules.admit(
            request, config, remote_addr=remote_addr, now=self.clock(), signed=(request.mobile, request.content)
        )
        # Number first, then text: the order client.IhuyiClient.submit checks them in.
        mobiles = rules.recipients(product, request.mobile)
        content = validate_content(request.content, product=product)
        templateid = request.templateid
        if templateid:
            # A template send: content is the variables, and the message is what they render.
            with self._lock:
                template = self._templates.sendable(account, product, templateid)
            content = rules.fill_template(template, content)
        due = rules.scheduled_time(product, request.stime)
        rules.check_sensitive_words(content, config.sensitive_words)
        verification = rules.is_verification(product, content)
        parts = count_parts(content, product=product)
        # One lock from the first limit checked to the last message filed: two sends to one
        # number must not both pass the same limit.
        with self._lock:
            if not templateid:
                rules.check_templates(content, self._templates.approved(account))
            rules.check_signatures(content, config.signatures.get(account))
            now = self.clock()
            for mobile in mobiles:
                self._limits.check(
                    mobile, content, verification=verification, now=now, history=self._inbox.history(mobile)
                )
            cost = parts * len(mobiles)
            if self._balances[account] < cost:
                raise error_for_code(ResultCode.BALANCE_EXHAUSTED)
            self._balances[account] -= cost
            self._smsid_sequence += 1
            smsid = new_smsid(now, self._smsid_sequence)
            accepted = [
                SandboxMessage(
                    smsid=smsid,
                    product=product,
                    mobile=mobile,
                    content=content,
                    parts=parts,
                    received_at=now if due is None else max(now, due),
                    account=account,
                    verification=verification,
                    stime=request.stime if product == "marketing" else "",
                    templateid=int(templateid) if templateid else None,
                )
                for mobile in mobiles
            ]
            if due is not None and due > now:
                # A scheduled send: the phones get it (and the receipts follow) at its stime.
                self._scheduled.extend(accepted)
                self._pusher.call_later(due - now, partial(self._arrive, accepted))
                return {"smsid": smsid}, []
            for message in accepted:
                self._receive(message)
        return {"smsid": smsid}, accepted

    def _get_num(self, request: Request, remote_addr: str) -> dict[str, Any]:
        account = rules.admit(request, self._config, remote_addr=remote_addr, now=self.clock(), signed=())
        with self._lock:
            return {"num": self._balances[account]}

    def _add_template(self, request: Request, remote_addr: str) -> dict[str, Any]:
        account = rules.admit(request, self._config, remote_addr=remote_addr, now=self.clock(), signed=None)
        content = validate_template(request.content)
        rules.check_sensitive_words(content, self._config.sensitive_words)
        with self._lock:
            template = self._templates.add(account, content)
        return {"templateid": template.templateid}

    # -- receipts and pushes ----------------------------------------------------------

    def _receive(self, message: SandboxMessage) -> None:
        """File ``message`` on its phone and schedule its receipt. Call under the lock."""
        self._inbox.receive(message)
        self._pusher.call_later(self._config.receipt_delay, partial(self._deliver, message))

    def _arrive(self, messages: list[SandboxMessage]) -> None:
        """Scheduled ``messages`` reach their phones: their stime has come."""
        arriving = {id(message) for message in messages}
        with self._lock:
            self._scheduled = [message for message in self._scheduled if id(message) not in arriving]
            for message in messages:
                self._receive(message)
        for message in messages:
            self._notify(message)

    def _deliver(self, message: SandboxMessage) -> None:
        delivered = message.mobile not in self._config.undeliverable
        with self._lock:
            # Not before the message arrived (a scheduled one arrives at its stime, whatever the clock says).
            report_time = china_time(max(self.clock(), message.received_at))
            fields = message.settle(delivered=delivered, report_time=report_time)
        if self.receipt_url:
            self._pusher.push("receipt", self.receipt_url, fields)

    def _notify(self, message: SandboxMessage) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(replace(message))
        except Exception:  # a listener's bug must not turn an accepted send into an error
            logger.exception("sandbox: on_message listener failed")

    def send_reply(self, mobile: str, content: str, smsid: str | None = None) -> PushRecord | None:
        """Push an upstream reply from ``mobile`` to ``reply_url``, as if the person texted back.

        ``smsid`` defaults to the last message sent to that number (``"0"``
        when there was none). The reply is recorded (see :meth:`replies_for`)
        even when no ``reply_url`` is set; then ``None`` is returned. Raises
        ``ValueError`` when ``mobile`` or ``content`` is empty.
        """
        mobile, content = (mobile or "").strip(), (content or "").strip()
        if not mobile:
            raise ValueError("mobile is empty")
        if not content:
            raise ValueError("content is empty")
        with self._lock:
            mobile = self._inbox.filed_as(mobile)  # as its messages went out: the push names it so
            if smsid is None:
                smsid = self._inbox.last_smsid(mobile)
            reply = SandboxReply(mobile=mobile, content=content, smsid=smsid, reply_time=china_time(self.clock()))
            self._inbox.add_reply(reply)
        if not self.reply_url:
            return None
        return self._pusher.push("reply", self.reply_url, reply.push_fields())

    def review_template(self, templateid: int, approved: bool, msg: str = "") -> PushRecord | None:
        """Approve or reject a template, and push the result to ``template_url``.

        Returns the push's record, or ``None`` when no ``template_url`` is set.
        Raises ``KeyError`` for an unknown ``templateid``.
        """
        with self._lock:
            template = self._templates.review(templateid, approved=approved, msg=msg)
        if not self.template_url:
            return None
        return self._pusher.push("template", self.template_url, template.review_fields())

    # -- reading state -------------------------------------------------------------------

    def phones(self) -> list[str]:
        """Numbers that received messages, the one that received last first."""
        with self._lock:
            return self._inbox.phones()

    @property
    def scheduled(self) -> list[SandboxMessage]:
        """Copies of the accepted messages whose stime has not come yet (not on any phone), soonest first."""
        with self._lock:
            return [replace(message) for message in sorted(self._scheduled, key=lambda message: message.received_at)]

    def messages_for(self, mobile: str) -> list[SandboxMessage]:
        """Copies of the messages ``mobile`` received, newest first (``[]`` for none)."""
        with self._lock:
            return self._inbox.messages_for(mobile)

    def replies_for(self, mobile: str) -> list[SandboxReply]:
        """Replies sent from ``mobile`` with :meth:`send_reply`, newest first."""
        with self._lock:
            return self._inbox.replies_for(mobile)

    def latest_code(self, mobile: str) -> str | None:
        """The code in the newest message to ``mobile`` (see ``inbox.code_in``), or ``None``."""
        messages = self.messages_for(mobile)
        return code_in(messages[0].content) if messages else None

    def balance(self, account: str) -> int:
        """Messages ``account`` may still send. Raises ``KeyError`` for an unknown account."""
        with self._lock:
            return self._balances[account]

    @property
    def accounts(self) -> dict[str, str]:
        """APIID → APIKEY pairs the sandbox accepts (sandbox keys; not secrets)."""
        return dict(self._config.accounts)

    @property
    def templates(self) -> list[SandboxTemplate]:
        """Copies of every template, configured or added, oldest first."""
        with self._lock:
            return self._templates.all()

    @property
    def pushes(self) -> list[PushRecord]:
        """Every push made so far (receipts, replies, template reviews), oldest first.

        The records are live: their ``attempts`` grow while retries run.
        """
        return self._pusher.records
