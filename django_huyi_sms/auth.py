"""``SmsCodeBackend``: sign in with a mobile number and the code just sent to it.

Add it to ``AUTHENTICATION_BACKENDS`` and call
``authenticate(request, mobile=…, code=…)``. The code must be a ``login`` code
(``otp.request_code(mobile, purpose="login")``); it is used up by the attempt.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.decorators import method_decorator

from . import otp
from .adapter import get_adapter
from .conf import huyi_settings
from .exceptions import InvalidCode, OtpError
from .privacy import private

#: The dotted path Django's ``login()`` records for users this backend signed in.
BACKEND_PATH = "django_huyi_sms.auth.SmsCodeBackend"


class SmsCodeBackend(ModelBackend):
    """Authenticates ``mobile`` + ``code``; inactive users are refused like ModelBackend refuses them."""

    @method_decorator(private)
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        mobile: str | None = None,
        code: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if mobile is None or code is None:
            return None  # not ours: a username/password attempt
        try:
            return self.user_for_code(mobile, code)
        except OtpError:
            return None

    def user_for_code(self, mobile: str, code: str) -> AbstractBaseUser:
        """The user that ``mobile``'s login ``code`` signs in, the code used up.

        Raises the ``OtpError`` that says what was wrong (``InvalidCode``,
        ``CodeExpired``, ``TooManyAttempts``); a number with no active account
        raises ``InvalidCode`` too, so the answer does not tell accounts apart.
        """
        record = otp.verify_code(mobile, code, purpose="login")
        adapter = get_adapter()
        user = adapter.get_user_by_mobile(record.mobile)
        if user is None and huyi_settings.OTP.get("CREATE_USER_ON_LOGIN"):
            user = adapter.create_user_for_mobile(record.mobile)
        if user is None or not self.user_can_authenticate(user):
            raise InvalidCode()
        user.backend = BACKEND_PATH
        return user
