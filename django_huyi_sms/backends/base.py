"""What every backend shares: the message it is handed and the three calls it answers."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from .. import template_variables
from ..exceptions import ResultCode
from ..provider import BalanceResult, SubmitResult, TemplateResult, mask_mobile


@dataclass(frozen=True)
class OutgoingSms:
    """A message ready to hand to a backend: already validated and normalised by ``sending.py``.

    ``mobile`` is the provider's ``mobile`` field: one number, or for the
    marketing product several, comma-separated. Its ``repr`` (what error
    reports and debuggers print) shows the numbers masked and not the text,
    which may carry a one-time code.

    A template send (``templateid`` set) carries the template's ``variables``;
    ``content`` is then the text they render, which the phone gets and the
    log keeps, and :attr:`submitted_content` what goes in the request.
    """

    product: str
    mobile: str
    content: str
    parts: int = 1
    stime: datetime | None = None
    templateid: int | None = None
    variables: tuple[str, ...] = ()

    @property
    def mobiles(self) -> list[str]:
        return self.mobile.split(",")

    @property
    def submitted_content(self) -> str:
        """Submit's ``content`` field: the text, or a template send's ``|``-separated variables."""
        if self.templateid is None:
            return self.content
        return template_variables.join(self.variables)

    def __repr__(self) -> str:
        mobiles = ",".join(mask_mobile(mobile) for mobile in self.mobiles)
        return (
            f"{self.__class__.__name__}(product={self.product!r}, mobile={mobiles!r}, "
            f"content=<{len(self.content)} characters>, parts={self.parts}, stime={self.stime!r}, "
            f"templateid={self.templateid!r})"
        )


class BaseSmsBackend:
    """Subclass and implement :meth:`send`; the others are optional."""

    def send(self, message: OutgoingSms) -> SubmitResult:
        """Send ``message``; return the provider's acceptance. Raise ``HuyiApiError`` on refusal."""
        raise NotImplementedError

    def get_balance(self, product: str = "sms") -> BalanceResult:
        """Messages left on ``product``'s account."""
        raise NotImplementedError(f"{self.__class__.__name__} cannot tell a balance")

    def add_template(self, content: str, product: str = "sms") -> TemplateResult:
        """Submit a template for review; return its ``templateid``."""
        raise NotImplementedError(f"{self.__class__.__name__} cannot submit templates")


class OfflineBackend(BaseSmsBackend):
    """A backend that sends nothing anywhere: accepts every message with a made-up smsid."""

    #: What :meth:`get_balance` answers; tests may change it.
    balance = 10000

    def get_balance(self, product: str = "sms") -> BalanceResult:
        return BalanceResult(code=ResultCode.ACCEPTED, msg="查询成功", num=self.balance)

    def add_template(self, content: str, product: str = "sms") -> TemplateResult:
        with _counter_lock:
            templateid = next(_template_ids)
        return TemplateResult(code=ResultCode.ACCEPTED, msg="提交成功", templateid=templateid)

    @staticmethod
    def accepted() -> SubmitResult:
        return SubmitResult(code=ResultCode.ACCEPTED, msg="提交成功", smsid=fake_smsid())


_counter = itertools.count(1)
# Template 1 is every account's default: the provider gives added templates other ids.
_template_ids = itertools.count(template_variables.DEFAULT_TEMPLATE_ID + 1)
_counter_lock = threading.Lock()


def fake_smsid() -> str:
    """A numeric, unique smsid in the provider's style, for backends that send nothing."""
    with _counter_lock:
        sequence = next(_counter)
    return f"{int(time.time() * 1000)}{sequence % 1000000:06d}"
