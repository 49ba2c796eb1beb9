"""Telling the site's operators: a mail to ``ADMINS`` when something needs a person.

A low balance (``balance_alarm.py``) and a site-wide code cap that starts refusing
(``site_limits.py``) both end here, once each time they happen; the callers decide
"once". The mail leaves only when the transaction that decided it commits (a decision
rolled back tells nobody), and it never raises: a mail server that is down must not
turn a code request or a balance reading into an error. The callers log a line either
way, so a site without ``ADMINS`` (``check --deploy`` warns: ``huyi_sms.W036``) still
has a trace.
"""

from __future__ import annotations

import logging

from django.core.mail import mail_admins
from django.db import transaction

__all__ = ["tell_admins"]

logger = logging.getLogger("django_huyi_sms.alerts")


def tell_admins(subject: str, message: str) -> None:
    """Mail ``subject`` and ``message`` to ``ADMINS`` once the current transaction commits (at once outside one).

    Never raises; a mail that cannot be sent is logged on ``django_huyi_sms.alerts``.
    """

    def send() -> None:
        try:
            mail_admins(subject, message)
        except Exception:
            logger.exception("could not mail ADMINS: %s", subject)

    transaction.on_commit(send)
