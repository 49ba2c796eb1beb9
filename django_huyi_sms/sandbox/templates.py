"""The provider's message templates (not Django's): those configured as approved, and those added for review.

An account listed in the ``templates`` setting must send text matching one of
its approved templates (``rules.check_templates``); a template added with
AddTemplate waits for :meth:`TemplateBook.review`, as it waits for ihuyi's
reviewers. A template send names one by its templateid (:meth:`TemplateBook.sendable`):
one of the account's approved templates, or template 1, every sms account's
default verification template, which is built in and never listed. Templates
belong to an account, whatever product's endpoint added them (the sandbox's
accounts serve every product). Pure Python; no Django. Not thread-safe: the
gateway calls it under its lock.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from ..exceptions import ReviewCode
from ..template_variables import DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_ID, is_default_template

__all__ = ["TEMPLATE_PENDING", "TEMPLATE_APPROVED", "TEMPLATE_REJECTED", "SandboxTemplate", "TemplateBook"]

TEMPLATE_PENDING = "pending"
TEMPLATE_APPROVED = "approved"
TEMPLATE_REJECTED = "rejected"


@dataclass
class SandboxTemplate:
    """A template submitted with AddTemplate (or configured as approved)."""

    templateid: int
    account: str
    content: str
    status: str = TEMPLATE_PENDING
    msg: str = ""

    def review_fields(self) -> dict[str, str]:
        """The template review push's fields: ``code`` approved or rejected, the reason, the id."""
        code = ReviewCode.APPROVED if self.status == TEMPLATE_APPROVED else ReviewCode.REJECTED
        return {"code": str(code.value), "msg": self.msg, "templateid": str(self.templateid)}


class TemplateBook:
    """Every template the sandbox knows, by templateid, oldest first."""

    def __init__(self, configured: Mapping[str, Collection[str]]) -> None:
        # 1 is the built-in default template's: the others are numbered after it.
        self._ids = itertools.count(DEFAULT_TEMPLATE_ID + 1)
        self._templates: dict[int, SandboxTemplate] = {}
        # Accounts held to templates: those listed in the setting, even with none approved yet.
        self._enforced = frozenset(configured)
        for account, texts in configured.items():
            for text in texts:
                self._file(account, text, TEMPLATE_APPROVED)

    def add(self, account: str, content: str) -> SandboxTemplate:
        """File a template for review, under the next templateid."""
        return self._file(account, content, TEMPLATE_PENDING)

    def review(self, templateid: int, *, approved: bool, msg: str = "") -> SandboxTemplate:
        """Approve or reject a template; return a copy of it. Raises ``KeyError`` for an unknown id."""
        template = self._templates[int(templateid)]
        template.status = TEMPLATE_APPROVED if approved else TEMPLATE_REJECTED
        template.msg = msg
        return replace(template)

    def approved(self, account: str) -> list[str] | None:
        """The texts ``account`` may send; ``None`` when it is not held to templates."""
        if account not in self._enforced:
            return None
        return [
            template.content
            for template in self._templates.values()
            if template.account == account and template.status == TEMPLATE_APPROVED
        ]

    def sendable(self, account: str, product: str, templateid: str) -> str | None:
        """The text of the template ``templateid`` (as the request wrote it) names, if ``account`` may send it.

        Template 1 on the sms product, or one of the account's approved
        templates; ``None`` for any other id, or one that is not a number.
        """
        if not (templateid.isascii() and templateid.isdigit()):
            return None
        number = int(templateid)
        if is_default_template(number, product):
            return DEFAULT_TEMPLATE
        template = self._templates.get(number)
        if template is None or template.account != account or template.status != TEMPLATE_APPROVED:
            return None
        return template.content

    def all(self) -> list[SandboxTemplate]:
        """Copies of every template, configured or added, oldest first."""
        return [replace(template) for template in self._templates.values()]

    def _file(self, account: str, content: str, status: str) -> SandboxTemplate:
        templateid = next(self._ids)
        template = self._templates[templateid] = SandboxTemplate(templateid, account, content, status)
        return template
