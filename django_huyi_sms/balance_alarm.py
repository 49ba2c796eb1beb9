"""The low-balance alarm: rung once each time a product's balance goes under ``LOW_BALANCE_THRESHOLD``.

Every balance reading (``sending.get_balance``: the admin's, ``huyi_balance``'s, the
periodic task's) passes through :func:`record_reading`. The alarm rings on the
reading that finds the balance under the threshold after one that did not (the
``balance_low`` signal, a warning logged, a mail to ``ADMINS``), not on each reading
under it; it is armed again by a reading at or above the threshold (a top-up).

Whether the last reading was low is kept in the database (``BalanceAlarm``, one row
per product and account), so it holds across processes and restarts, and the
crossing is one conditional UPDATE (``WHERE low = false``): of two workers that read
the same low balance at once, one rings. A new account (a changed ``ACCOUNT``) starts
with its own state.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from . import alerts, signals
from .conf import huyi_settings
from .models import PRODUCT_LABELS, BalanceAlarm

__all__ = ["record_reading"]

logger = logging.getLogger("django_huyi_sms.balance_alarm")


def record_reading(product: str, balance: int) -> bool:
    """Record that ``product``'s account has ``balance`` messages left; ring if it just went under the threshold.

    Returns whether the alarm rang (the ``balance_low`` signal was sent and
    ``ADMINS`` will be mailed once the transaction commits).
    """
    threshold = huyi_settings.LOW_BALANCE_THRESHOLD
    account = huyi_settings.product(product).account
    low = balance < threshold
    if not BalanceAlarm.flip(product, account, low=low, balance=balance, now=timezone.now()):
        return False
    if not low:
        logger.info("balance of %s back to %d (threshold %d): the low-balance alarm is armed again",
                    product, balance, threshold)
        return False
    logger.warning("balance of %s is %d, under LOW_BALANCE_THRESHOLD %d: top up", product, balance, threshold)
    label = str(PRODUCT_LABELS.get(product, product))
    alerts.tell_admins(
        f"SMS balance low: {balance} messages left on {product}",
        f"The ihuyi account {account or '(none)'} for {label} ({product}) has {balance} messages left, "
        f"under HUYI_SMS['LOW_BALANCE_THRESHOLD'] ({threshold}).\n\n"
        "When it reaches 0, ihuyi refuses every send (4051) and nobody gets a code. Top it up in the "
        "ihuyi console.\n\n"
        "This mail is sent once each time the balance goes under the threshold; the next one comes "
        "after a top-up and a new fall.",
    )
    signals.balance_low.send(sender=None, product=product, balance=balance, threshold=threshold)
    return True
