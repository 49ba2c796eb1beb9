"""What a person does with codes: ask for one, sign in, reset a password, verify a phone.

The forms, views and JSON API all call these, so the rules are the same
whichever door a request comes through: the per-IP limits (``ratelimits``)
first, then ``otp.py``'s per-number limits and checks. Sign-in and password
reset never tell whether a number has an account (``otp.request_code_for_account``).
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.contrib.auth import login
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from . import otp, purposes
from .adapter import get_adapter
from .auth import BACKEND_PATH, SmsCodeBackend
from .conf import huyi_settings
from .exceptions import InvalidCode, NotSignedIn, OtpError, VoiceNotOffered
from .models import OtpRecord
from .privacy import private
from .provider import mask_mobile
from .ratelimits import REQUEST_CODE, VERIFY_CODE, check_rate

__all__ = [
    "LOGIN",
    "PASSWORD_RESET",
    "VERIFY_PHONE",
    "send_code",
    "resend_in",
    "voice_fallback_in",
    "authenticate_code",
    "sign_in",
    "api_token",
    "token_auth_installed",
    "reset_password",
    "verify_phone",
]

logger = logging.getLogger("django_huyi_sms.flows")

LOGIN, PASSWORD_RESET, VERIFY_PHONE = purposes.LOGIN, purposes.PASSWORD_RESET, purposes.VERIFY_PHONE


@private
def send_code(request: HttpRequest, mobile: str, purpose: str, channel: str = otp.SMS) -> OtpRecord:
    """Ask for a ``purpose`` code to ``mobile``: what every "send code" button does.

    ``channel="voice"`` asks for a call that speaks the code: "receive a voice
    call instead", offered only while ``OTP["VOICE_FALLBACK_AFTER"]`` is set
    (:func:`voice_fallback_in` says when). Returns the code's record. For
    sign-in and password reset the answer is the same whether or not the
    number has an account (``otp.request_code_for_account``): ``record.sms_log``
    is ``None`` when nothing left, which the caller must not show. Raises
    ``RateLimited``, ``ResendTooSoon`` (``VoiceTooSoon`` for a call asked for
    early), ``DailyLimitReached``, ``SiteLimitReached``, ``ChallengeFailed``,
    ``NotSignedIn``, ``VoiceNotOffered``, ``HuyiRecipientError`` (a malformed
    number), for ``verify_phone`` the provider's ``HuyiApiError``, and
    ``ValueError`` for an unknown purpose or channel.
    """
    if purpose not in purposes.ALL:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(purposes.ALL)}")
    if channel not in otp.CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(otp.CHANNELS)}")
    if purpose == VERIFY_PHONE and not request.user.is_authenticated:
        raise NotSignedIn()
    if channel == otp.VOICE and huyi_settings.OTP["VOICE_FALLBACK_AFTER"] is None:
        raise VoiceNotOffered()
    check_rate(request, REQUEST_CODE)
    if purpose == VERIFY_PHONE:
        return otp.request_code(mobile, purpose=purpose, channel=channel, request=request)
    return otp.request_code_for_account(mobile, purpose=purpose, channel=channel, request=request)


@private
def resend_in(mobile: str, purpose: str) -> int | None:
    """Seconds until ``mobile`` may be sent another ``purpose`` code (``None``: now, or a malformed number).

    For the pages, which count down on their "send code" button: after a code
    was sent, and again when the page comes back with a wrong code, so the wait
    is the server's, not the browser's memory: :func:`otp.seconds_until_allowed`
    (the purpose's resend wait), without sending; a number with or without an account waits alike (both are counted).
    ``ValueError`` for an unknown purpose.
    """
    if purpose not in purposes.ALL:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(purposes.ALL)}")
    # Another limit (the day's) is not counted down: its refusal says so when a code is asked for.
    return otp.seconds_until_allowed(mobile, purpose, daily=False) or None


@private
def voice_fallback_in(mobile: str, purpose: str) -> int | None:
    """Seconds until "receive a voice call instead" may be offered for ``mobile``'s code (0: now; ``None``: not).

    Sign-in and password reset wait ``VOICE_FALLBACK_AFTER`` whatever the SMS's
    receipt says, so that the offer looks the same for a number with no account
    (whose code was never sent, and so has no receipt); phone verification
    offers a call at once when the receipt says undelivered.
    """
    return otp.voice_fallback_in(mobile, purpose, receipts=purpose not in purposes.FOR_ACCOUNTS)


@private
def authenticate_code(request: HttpRequest, mobile: str, code: str) -> AbstractBaseUser:
    """The user a login code signs in (not signed in yet: ``LoginView`` or :func:`sign_in` does that).

    Raises ``RateLimited`` and the ``OtpError`` that says what was wrong with the code.
    """
    check_rate(request, VERIFY_CODE)
    try:
        return SmsCodeBackend().user_for_code(mobile, code)
    except OtpError:
        # As django.contrib.auth.authenticate() does, so login-failure watchers see these too.
        user_login_failed.send(sender=__name__, credentials={"mobile": mask_mobile(str(mobile))}, request=request)
        raise


@private
def sign_in(request: HttpRequest, mobile: str, code: str, *, session: bool = True) -> AbstractBaseUser:
    """Check a login code and return its user, signed in to ``request``'s session if ``session``.

    A session is only for requests that passed Django's CSRF check; otherwise a
    cross-site form could sign a visitor's browser in to the sender's account.
    """
    user = authenticate_code(request, mobile, code)
    if session:
        login(request, user, backend=BACKEND_PATH)  # type: ignore[arg-type]  # any user model, as Django's login takes
    return user


def api_token(user: AbstractBaseUser) -> str | None:
    """``user``'s DRF auth token, when ``rest_framework.authtoken`` is installed (apps keep it)."""
    if not token_auth_installed():
        return None
    from rest_framework.authtoken.models import Token

    token, _created = Token.objects.get_or_create(user_id=user.pk)
    return token.key


def token_auth_installed() -> bool:
    """Whether apps can be given a DRF token (``rest_framework.authtoken`` is installed)."""
    return apps.is_installed("rest_framework.authtoken")


@private
def reset_password(request: HttpRequest, mobile: str, code: str, new_password: str) -> AbstractBaseUser:
    """Set the password of ``mobile``'s account, given its ``password_reset`` code.

    The caller has validated ``new_password`` (Django's password validators).
    Raises ``RateLimited`` and the code's ``OtpError``.
    """
    check_rate(request, VERIFY_CODE)
    record = otp.verify_code(mobile, code, purpose=PASSWORD_RESET)
    user = get_adapter().get_user_by_mobile(record.mobile)
    if user is None or not getattr(user, "is_active", True):
        # Only numbers with an account get a reset code, but an account can go in between.
        raise InvalidCode()
    user.set_password(new_password)
    user.save(update_fields=["password"])
    logger.info("password reset by SMS code for %s", mask_mobile(record.mobile))
    return user


@private
def verify_phone(request: HttpRequest, mobile: str, code: str) -> str:
    """Record ``mobile`` as the signed-in user's verified number, given its ``verify_phone`` code.

    Returns the number as stored. Raises ``NotSignedIn``, ``RateLimited`` and the code's ``OtpError``.
    """
    if not request.user.is_authenticated:
        raise NotSignedIn()
    check_rate(request, VERIFY_CODE)
    record = otp.verify_code(mobile, code, purpose=VERIFY_PHONE, user=request.user)
    get_adapter().set_user_mobile(request.user, record.mobile)
    logger.info("user %s verified %s", request.user.pk, mask_mobile(record.mobile))
    return record.mobile
