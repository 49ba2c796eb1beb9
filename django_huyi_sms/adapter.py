"""Behaviour a site commonly changes, in one class to subclass (like django-allauth's adapter).

Point ``HUYI_SMS["ADAPTER"]`` at a subclass of :class:`HuyiAdapter` and
override what you need: the check that runs before any code is sent (a
captcha), the text of the code message, how a number is normalised.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from . import purposes
from .conf import huyi_settings
from .exceptions import ChallengeFailed
from .validation import normalize_mobile


class HuyiAdapter:
    def normalize_mobile(self, mobile: str) -> str:
        """The number as stored and sent to. Raises ``HuyiRecipientError`` (403/406)."""
        return normalize_mobile(mobile)

    def get_challenge_form(self, request: HttpRequest | None, data: Any = None) -> forms.Form | None:
        """A form the person fills before asking for a code (a captcha), or ``None`` (the default).

        The pages show it beside "send code" (unbound, so a fresh challenge each time);
        the default :meth:`pre_send_check` binds it to the request's data and refuses the
        code unless it is valid. With django-simple-captcha, return a form with a
        ``CaptchaField`` (docs/otp.md shows the three lines).
        """
        return None

    def pre_send_check(self, request: HttpRequest | None, mobile: str, purpose: str) -> None:
        """Runs before any code is sent; raise ``exceptions.ChallengeFailed`` to refuse.

        The provider's anti-abuse advice is to put a graphic captcha (or an
        equivalent challenge) in front of "send code". By default this checks the
        form of :meth:`get_challenge_form`, if there is one, against the request's
        data (form fields, or the JSON API's body); override it for any other check.
        Per-number and per-IP limits apply either way.
        """
        if request is None:
            return
        data = getattr(request, "data", None)
        form = self.get_challenge_form(request, data if data is not None else request.POST)
        if form is not None and not form.is_valid():
            raise ChallengeFailed()

    def can_receive_code(self, mobile: str, purpose: str) -> bool:
        """Whether ``mobile`` gets a code for ``purpose`` from the sign-in and reset flows.

        Those flows answer alike either way (``otp.request_code_for_account``), so
        saying no here reveals nothing. By default a ``login`` code goes to a number
        with an active account (or to any number with ``OTP["CREATE_USER_ON_LOGIN"]``),
        a ``password_reset`` code to a number with an active account, any other
        purpose to any number.
        """
        if purpose not in purposes.FOR_ACCOUNTS:
            return True
        if purpose == purposes.LOGIN and huyi_settings.OTP.get("CREATE_USER_ON_LOGIN"):
            return True
        user = self.get_user_by_mobile(mobile)
        return user is not None and getattr(user, "is_active", True)

    def code_message(self, code: str, purpose: str) -> str:
        """The text of the SMS that carries ``code``: ``OTP["TEMPLATE"]`` by default.

        Used while ``OTP["TEMPLATE_ID"]`` is ``None``; once it is set, the code
        goes as that template's variables (:meth:`code_variables`) instead.
        """
        return huyi_settings.OTP["TEMPLATE"].format(code=code)

    def code_variables(self, code: str, purpose: str) -> list[str]:
        """The variables of template ``OTP["TEMPLATE_ID"]`` that carry ``code``: ``[code]`` by default.

        Override for a template with more places, e.g. ``[code, "5"]`` for
        ``您的验证码是：【变量1】，【变量2】分钟内有效。``. The code is starred out of
        the log wherever it appears.
        """
        return [code]

    # -- users and their numbers --------------------------------------------------------

    def get_user_by_mobile(self, mobile: str) -> AbstractBaseUser | None:
        """The user whose (verified) number is ``mobile``: ``USER_MOBILE_FIELD`` on the user
        model when set, otherwise the app's ``UserMobile`` link."""
        field = huyi_settings.USER_MOBILE_FIELD
        users = get_user_model()._default_manager
        if field:
            return users.filter(**{field: mobile}).first()
        from .models import UserMobile

        link = UserMobile.objects.select_related("user").filter(mobile=mobile).first()
        return link.user if link else None

    def get_user_mobile(self, user: AbstractBaseUser) -> str | None:
        """``user``'s verified number, or ``None``."""
        field = huyi_settings.USER_MOBILE_FIELD
        if field:
            return getattr(user, field, None) or None
        from .models import UserMobile

        return UserMobile.objects.filter(user_id=user.pk).values_list("mobile", flat=True).first()

    def set_user_mobile(self, user: AbstractBaseUser, mobile: str) -> None:
        """Record ``mobile`` as ``user``'s verified number (a number belongs to one user at most)."""
        field = huyi_settings.USER_MOBILE_FIELD
        if field:
            with transaction.atomic():
                # Whoever proves the number now has it: nobody else may sign in with it.
                users = get_user_model()._default_manager
                users.filter(**{field: mobile}).exclude(pk=user.pk).update(**{field: ""})
                setattr(user, field, mobile)
                user.save(update_fields=[field])
            return
        from .models import UserMobile

        with transaction.atomic():
            UserMobile.objects.filter(mobile=mobile).exclude(user_id=user.pk).delete()
            UserMobile.objects.update_or_create(
                user_id=user.pk, defaults={"mobile": mobile, "verified_at": timezone.now()}
            )

    def create_user_for_mobile(self, mobile: str) -> AbstractBaseUser:
        """A new account for a number signing in for the first time (``OTP["CREATE_USER_ON_LOGIN"]``).

        Named by :meth:`new_username`, not after the number: a username shows
        in places that mask numbers, and an existing account may already bear
        the number as its name without having proven it. No usable password.
        """
        users = get_user_model()._default_manager
        username_field = get_user_model().USERNAME_FIELD
        attempts_left = _NAME_ATTEMPTS
        while True:
            try:
                with transaction.atomic():  # a clash rolls back to here, not the caller's transaction
                    user = users.create_user(**{username_field: self.new_username(mobile)})
                    self.set_user_mobile(user, mobile)
                return user
            except IntegrityError:
                attempts_left -= 1
                if not attempts_left:
                    raise

    def new_username(self, mobile: str) -> str:
        """The username of an account :meth:`create_user_for_mobile` makes: ``sms-`` and 12 random hex digits."""
        return f"sms-{secrets.token_hex(6)}"


#: Tries at a free username before a clash is taken for a bug (a ``new_username`` that repeats itself).
_NAME_ATTEMPTS = 5


def get_adapter() -> Any:
    return huyi_settings.ADAPTER()
