"""Sending: validate, record an ``SmsLog`` row, hand to the backend, record the result, signal.

This is the only module that writes ``SmsLog`` rows for sends and ``SmsTemplate``
rows for template submissions. Views, forms, commands and admin actions call it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import receipts, signals, validation
from .backends import OutgoingSms, get_backend
from .client import PRODUCTS, mask_mobile
from .conf import huyi_settings
from .exceptions import BLACKLIST_CODES, MOBILE_BLACKLISTED, HuyiApiError, HuyiResponseError, error_for_code
from .models import OptOut, OtpRecord, SmsLog, SmsTemplate

__all__ = ["prepare_message", "send_sms", "get_balance", "add_template", "resend", "NotResendable"]

logger = logging.getLogger("django_huyi_sms.sending")


def prepare_message(mobile: str, content: str, *, product: str = "sms") -> OutgoingSms:
    """Validate and normalise a message for ``product`` as the provider would.

    Raises the exception of the provider's code (``HuyiRecipientError`` 403/406,
    ``HuyiContentError`` 404/4070/4073/4074) and ``ValueError`` for an unknown
    product. Writes nothing.
    """
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    mobile_field = validation.prepare_mobile(mobile, product)
    content = validation.validate_content(content)
    return OutgoingSms(product=product, mobile=mobile_field, content=content, parts=validation.count_parts(content))


def send_sms(
    mobile: str,
    content: str,
    *,
    product: str = "sms",
    purpose: str = "",
    user: Any = None,
    fail_silently: bool = False,
    redact: Sequence[str] = (),
) -> SmsLog:
    """Send ``content`` to one ``mobile`` now, and return its ``SmsLog`` row.

    ``redact`` lists secrets in ``content`` (a one-time code) that the provider
    gets but the row never stores: they are starred out in ``SmsLog.content``.

    The row is written as ``queued`` before the HTTP call, then becomes
    ``submitted`` (with the provider's ``smsid``) or ``failed`` (with the
    provider's code and message). ``sms_sent`` or ``sms_failed`` is sent.

    Invalid input (a malformed number, empty or over-long content, emoji, a bad
    signature) raises the provider's exception class before anything is
    written, whatever ``fail_silently`` says: nothing was sent. Failures of the
    send itself (the provider refusing, the network) raise a ``HuyiApiError``
    subclass unless ``fail_silently`` is true; the row records them either way.
    """
    purpose = validation.validate_purpose(purpose, max_length=SmsLog._meta.get_field("purpose").max_length)
    message = prepare_message(mobile, content, product=product)
    if len(message.mobiles) != 1:
        raise error_for_code(406, detail="send_sms() sends to exactly one number")
    if product == "marketing" and receipts.is_opted_out(message.mobile):
        raise error_for_code(MOBILE_BLACKLISTED, detail="the number opted out of marketing messages")
    log = SmsLog.objects.create(
        product=message.product,
        mobile=message.mobile,
        content=_redacted(message.content, redact),
        parts=message.parts,
        purpose=purpose or "",
        user=user if getattr(user, "pk", None) else None,
    )
    deliver(log, message, fail_silently=fail_silently)
    return log


def _redacted(content: str, secrets: Sequence[str]) -> str:
    """``content`` with each secret starred out, keeping its length (and so the billed parts)."""
    for secret in secrets:
        if secret:
            content = content.replace(secret, "*" * len(secret))
    return content


def deliver(log: SmsLog, message: OutgoingSms, *, fail_silently: bool = False) -> SmsLog:
    """Hand a queued ``log``'s ``message`` to the backend and record what happened.

    The one place a queued row is sent from, whatever queued it.
    """
    backend = get_backend()
    try:
        result = backend.send(message)
    except HuyiApiError as error:
        _record_failure(log, error)
        if not fail_silently:
            raise
        return log
    except Exception as error:
        # A backend bug must not leave the row queued forever; record it, then re-raise
        # (fail_silently hides provider trouble, not programming errors).
        _record_failure(log, HuyiResponseError(None, detail=f"{error.__class__.__name__} in backend"))
        raise
    _record_submitted(log, smsid=result.smsid, code=result.code, msg=result.msg)
    return log


def _record_submitted(log: SmsLog, *, smsid: str, code: int, msg: str) -> None:
    now = timezone.now()
    changes = {
        "status": SmsLog.Status.SUBMITTED,
        "smsid": smsid,
        "provider_code": code,
        "provider_msg": msg[:255],
        "submitted_at": now,
        "updated_at": now,
    }
    # Conditional: only a queued row becomes submitted, so a receipt applied in
    # between (receipts.py's early-receipt path) is never overwritten.
    updated = SmsLog.objects.filter(pk=log.pk, status=SmsLog.Status.QUEUED).update(**changes)
    _apply(log, updated, changes)
    logger.info("SMS %s to %s submitted, smsid %s", log.pk, mask_mobile(log.mobile), smsid)
    # sms_sent first: a receipt that came early must not announce delivery of a send
    # not yet announced as sent. The matching runs even if a receiver raises.
    try:
        signals.sms_sent.send(sender=SmsLog, log=log)
    finally:
        if updated:
            # A receipt may have come before this smsid was stored: apply any that wait
            # for it now, and again once the smsid is committed if we are inside a
            # transaction (receipts.py explains why that ordering loses nothing).
            receipts.match_pending_receipts(log)
            if transaction.get_connection().in_atomic_block:
                transaction.on_commit(lambda: receipts.match_pending_receipts(log))


def _record_failure(log: SmsLog, error: HuyiApiError) -> None:
    now = timezone.now()
    changes = {
        "status": SmsLog.Status.FAILED,
        "provider_code": error.code,
        "provider_msg": (error.msg or error.detail or str(error))[:255],
        "updated_at": now,
    }
    _apply(log, SmsLog.objects.filter(pk=log.pk, status=SmsLog.Status.QUEUED).update(**changes), changes)
    if error.code in BLACKLIST_CODES:
        receipts.opt_out(log.mobile, OptOut.Reason.BLACKLISTED)
    logger.warning("SMS %s to %s failed: %s", log.pk, mask_mobile(log.mobile), error)
    signals.sms_failed.send(sender=SmsLog, log=log, error=error)


def _apply(log: SmsLog, updated: int, changes: dict[str, Any]) -> None:
    """Mirror a conditional UPDATE on the in-memory ``log``; reload it if another writer got there first."""
    if updated:
        for field, value in changes.items():
            setattr(log, field, value)
    else:
        log.refresh_from_db()


def get_balance(product: str = "sms") -> int:
    """How many messages ``product``'s account has left.

    Sends ``balance_low`` when the number is under ``LOW_BALANCE_THRESHOLD``.
    Raises a ``HuyiApiError`` subclass when the provider refuses or cannot be reached.
    """
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    balance = get_backend().get_balance(product).num
    threshold = huyi_settings.LOW_BALANCE_THRESHOLD
    if threshold is not None and balance < threshold:
        signals.balance_low.send(sender=None, product=product, balance=balance, threshold=threshold)
    return balance


def add_template(content: str, *, product: str = "sms") -> SmsTemplate:
    """Submit ``content`` to the provider for review and record it as a pending ``SmsTemplate``.

    Variables are written ``【变量】``. The row is written only once the
    provider accepted the template (and knows its ``templateid``); a refusal
    raises the provider's exception and writes nothing.
    """
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    content = validation.validate_template(content)
    result = get_backend().add_template(content, product)
    template, _created = SmsTemplate.objects.update_or_create(
        product=product,
        templateid=result.templateid,
        defaults={"content": content, "status": SmsTemplate.Status.PENDING},
    )
    return template


class NotResendable(ValueError):
    """``resend()`` refused a message: it did not fail, it was already resent, or it carried a one-time code."""


#: The statuses of a message that did not reach the person and may be sent again.
RESENDABLE_STATUSES = (SmsLog.Status.FAILED, SmsLog.Status.UNDELIVERED)


def resend(log: SmsLog) -> SmsLog:
    """Send a failed or undelivered ``log`` again, as a new ``SmsLog`` row whose ``resent_from`` is ``log``.

    The new row goes through the same validation, opt-out check and backend as
    ``send_sms``, and records its own result; a provider refusal is recorded on
    it (``failed``) rather than raised. The new row keeps the original's
    ``purpose`` and ``user``.

    Raises :class:`NotResendable` when ``log`` did not fail, has been resent
    already (so a double click sends once), or carried a one-time code (an old
    code must not be sent again: the person asks for a new one). Invalid input
    raises the provider's exception class before anything is written, as in
    ``send_sms``.
    """
    from .otp import PURPOSES  # otp.py imports this module: import at call time

    if log.purpose in PURPOSES or OtpRecord.objects.filter(sms_log_id=log.pk).exists():
        raise NotResendable("a one-time code is not sent twice; the person asks for a new code")
    message = prepare_message(log.mobile, log.content, product=log.product)
    if log.product == "marketing" and receipts.is_opted_out(message.mobile):
        raise error_for_code(MOBILE_BLACKLISTED, detail="the number opted out of marketing messages")
    with transaction.atomic():
        # Lock the original so that two concurrent resends of it create one new row.
        original = SmsLog.objects.select_for_update().filter(pk=log.pk).first()
        if original is None or original.status not in RESENDABLE_STATUSES:
            raise NotResendable("only a failed or undelivered message is resent")
        if original.resends.exists():
            raise NotResendable("this message has been resent already")
        new_log = SmsLog.objects.create(
            product=message.product,
            mobile=message.mobile,
            content=message.content,
            parts=message.parts,
            purpose=original.purpose,
            user_id=original.user_id,
            resent_from=original,
        )
    # Sent after the commit: the lock is not held while the provider answers.
    logger.info("SMS %s to %s resent as %s", original.pk, mask_mobile(original.mobile), new_log.pk)
    deliver(new_log, message, fail_silently=True)
    return new_log
