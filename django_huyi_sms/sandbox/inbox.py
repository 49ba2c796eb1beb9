"""The phones: what each number received, what it texted back, and the code a person would read off it.

:class:`Inbox` keeps :class:`SandboxMessage` s per number (the last to
receive, last) and :class:`SandboxReply` s. It takes no lock of its own: the
gateway calls it under its lock, together with the limits that read the same
history. :func:`phone_payload` is what ``/phone/<mobile>.json`` answers, for
both servers. Pure Python; no Django.
"""

from __future__ import annotations

import re
from collections import OrderedDict, defaultdict
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..exceptions import HuyiApiError, ReceiptCode
from ..provider import NO_SMSID, VOICE_PRODUCTS
from ..validation import normalize_any_mobile, normalize_international
from .wire import china_time

if TYPE_CHECKING:  # pragma: no cover
    from .gateway import SandboxGateway

__all__ = [
    "STATUS_SUBMITTED",
    "STATUS_DELIVERED",
    "STATUS_UNDELIVERED",
    "SandboxMessage",
    "SandboxReply",
    "Inbox",
    "code_in",
    "phone_payload",
]

STATUS_SUBMITTED = "submitted"
STATUS_DELIVERED = "delivered"
STATUS_UNDELIVERED = "undelivered"

# The operator's status word a receipt's msg carries.
DELIVERED_STATUS_WORD = "DELIVRD"
UNDELIVERED_STATUS_WORD = "UNDELIV"

# What a person reads as the code: a run of 4–8 digits that is not part of a longer number.
_CODE = re.compile(r"(?<![0-9])[0-9]{4,8}(?![0-9])")


@dataclass
class SandboxMessage:
    """One accepted message, as one phone "received" it.

    A marketing Submit to several numbers gives one of these per number, all
    with the same ``smsid``. ``status`` moves from ``submitted`` to
    ``delivered`` or ``undelivered`` when the receipt is due; ``receipt``
    then holds the receipt's fields.
    """

    smsid: str
    product: str
    mobile: str
    content: str
    parts: int
    received_at: float  # Unix seconds, by the gateway's clock
    account: str
    verification: bool = False
    stime: str = ""  # a marketing send's scheduled time, as given
    templateid: int | None = None  # a template send's template, which rendered ``content``
    status: str = STATUS_SUBMITTED
    receipt: dict[str, str] | None = None

    @property
    def received_time(self) -> str:
        """``received_at`` in China time, as the provider writes times."""
        return china_time(self.received_at)

    @property
    def call(self) -> bool:
        """Whether the number got a phone call (the voice products) rather than a text."""
        return self.product in VOICE_PRODUCTS

    @property
    def spoken(self) -> str:
        """What the call said, as a person hears it: a voice code digit by digit (``4 8 2 9``), a notice as written."""
        return " ".join(self.content) if self.product == "voice" else self.content

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every field, plus ``received_time``, ``call`` and ``spoken``."""
        return {**asdict(self), "received_time": self.received_time, "call": self.call, "spoken": self.spoken}

    def settle(self, *, delivered: bool, report_time: str) -> dict[str, str]:
        """Record the delivery receipt on this message; return the receipt's push fields.

        The receipt's code is not a Submit result code: ``ReceiptCode.DELIVERED``
        means delivered, anything else failed, and the msg is the operator's word.
        """
        self.status = STATUS_DELIVERED if delivered else STATUS_UNDELIVERED
        self.receipt = {
            "code": (ReceiptCode.DELIVERED if delivered else ReceiptCode.UNDELIVERED).value,
            "msg": DELIVERED_STATUS_WORD if delivered else UNDELIVERED_STATUS_WORD,
            "mobilephone": self.mobile,
            "smsid": self.smsid,
            "report_time": report_time,
        }
        return dict(self.receipt)


@dataclass
class SandboxReply:
    """An upstream reply sent with :meth:`SandboxGateway.send_reply`."""

    mobile: str
    content: str
    smsid: str
    reply_time: str

    def push_fields(self) -> dict[str, str]:
        """The reply push's fields, named as the provider names them."""
        return {"mobilephone": self.mobile, "content": self.content, "smsid": self.smsid, "reply_time": self.reply_time}


class Inbox:
    """Messages and replies per number. Not thread-safe: the gateway calls it under its lock."""

    def __init__(self) -> None:
        self._messages: OrderedDict[str, list[SandboxMessage]] = OrderedDict()  # last to receive = last
        self._replies: defaultdict[str, list[SandboxReply]] = defaultdict(list)

    def receive(self, message: SandboxMessage) -> None:
        """File ``message`` under its number, which becomes the latest to have received."""
        self._messages.setdefault(message.mobile, []).append(message)
        self._messages.move_to_end(message.mobile)

    def history(self, mobile: str) -> list[SandboxMessage]:
        """What ``mobile`` (as stored) received, oldest first: the live list the limits read."""
        return self._messages.get(mobile, [])

    def last_smsid(self, mobile: str) -> str:
        """The smsid of the newest message to ``mobile``; ``"0"`` when it received none."""
        history = self._messages.get(mobile)
        return history[-1].smsid if history else NO_SMSID

    def add_reply(self, reply: SandboxReply) -> None:
        self._replies[reply.mobile].append(reply)

    def phones(self) -> list[str]:
        """Numbers that received messages, the one that received last first."""
        return list(reversed(self._messages))

    def messages_for(self, mobile: str) -> list[SandboxMessage]:
        """Copies of what ``mobile`` received, newest first (``[]`` for none)."""
        return [replace(message) for message in reversed(self._messages.get(self.filed_as(mobile), []))]

    def replies_for(self, mobile: str) -> list[SandboxReply]:
        """Copies of the replies sent from ``mobile``, newest first."""
        return [replace(reply) for reply in reversed(self._replies.get(self.filed_as(mobile), []))]

    def filed_as(self, mobile: str) -> str:
        """The number ``mobile`` is filed under, however it is written: as stored, as a person would type
        it (``+86 138-0013-8000``, ``+44 7400 123456``), or as digits in a URL (``447400123456``)."""
        mobile = str(mobile or "").strip()
        candidates = [mobile]
        for read in (normalize_any_mobile, normalize_international):
            try:
                candidates.append(read(mobile))
            except HuyiApiError:
                pass
        for candidate in candidates:
            if candidate in self._messages or candidate in self._replies:
                return candidate
        return candidates[min(1, len(candidates) - 1)]


def code_in(content: str) -> str | None:
    """The last run of 4–8 digits in ``content`` (the code a person would type), or ``None``."""
    codes = _CODE.findall(content)
    return codes[-1] if codes else None


def phone_payload(gateway: SandboxGateway, mobile: str) -> dict[str, Any]:
    """What ``mobile`` got, as plain data for JSON (``/phone/<mobile>.json``).

    The number, its latest code, its messages and the replies sent from it, newest first.
    """
    return {
        "mobile": mobile,
        "latest_code": gateway.latest_code(mobile),
        "messages": [message.as_dict() for message in gateway.messages_for(mobile)],
        "replies": [asdict(reply) for reply in gateway.replies_for(mobile)],
    }
