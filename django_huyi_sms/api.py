"""The JSON API for apps and mini-programs: ask for a code, then verify it (sign in, reset, verify a phone).

``POST api/otp/`` ``{mobile, purpose[, channel]}`` (``channel``: ``sms``, or
``voice`` for a call that speaks the code, once ``voice_after`` seconds have
passed) and ``POST api/otp/verify/``
``{mobile, code, purpose[, new_password]}``. Errors are JSON with a stable
machine ``code`` (``problems.py``): 400 for bad input or a wrong code, 401
where a signed-in user is needed, 429 with ``Retry-After`` for limits, 503
when the SMS cannot be sent now. Thin: everything happens in ``flows``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import flows, otp, purposes
from .conf import huyi_settings
from .exceptions import HuyiError
from .parsers import StrictFormParser, StrictJSONParser, StrictMultiPartParser
from .privacy import PRIVATE_POST_PARAMETERS, private
from .problems import describe

__all__ = ["RequestCodeSerializer", "VerifyCodeSerializer", "OtpRequestView", "OtpVerifyView"]


# The help texts describe the fields in the OpenAPI schema (openapi.py) and DRF's browsable API.
class RequestCodeSerializer(serializers.Serializer):
    mobile = serializers.CharField(
        max_length=32, help_text=gettext_lazy("The mobile number as typed: +86 138-0013-8000 is 13800138000.")
    )
    purpose = serializers.ChoiceField(
        choices=purposes.ALL, default=flows.LOGIN, help_text=gettext_lazy("What the code is for.")
    )
    channel = serializers.ChoiceField(
        choices=otp.CHANNELS,
        default=otp.SMS,
        help_text=gettext_lazy("sms, or voice: a call that speaks the code, where the site offers one."),
    )


class VerifyCodeSerializer(RequestCodeSerializer):
    channel = None  # type: ignore[assignment]  # a code is checked the same whichever way it came
    code = serializers.CharField(max_length=16, help_text=gettext_lazy("The code the person received."))
    new_password = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        max_length=4096,
        help_text=gettext_lazy("For password_reset: the new password (Django's password validators apply)."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["purpose"] == flows.PASSWORD_RESET:
            password = attrs.get("new_password")
            if not password:
                raise serializers.ValidationError({"new_password": gettext("This field is required.")})
            try:
                # Before the code is checked, so a weak password does not use the code up.
                password_validation.validate_password(password)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"new_password": list(error.messages)}) from None
        return attrs


class CsrfRequired(exceptions.PermissionDenied):
    default_code = "csrf_failed"


@method_decorator(sensitive_post_parameters(*PRIVATE_POST_PARAMETERS), name="dispatch")
class OtpApiView(APIView):
    """Shared error handling: every failure is ``{"code": …, "detail": …}``; no number or code in error reports."""

    # POST only: OPTIONS would answer DRF's metadata (the docstring, the fields), which the docs
    # already give to those who need it. A cross-origin site's preflight is answered before the
    # view by django-cors-headers.
    http_method_names = ["post"]
    permission_classes = [AllowAny]
    # The limits that matter are ours (per number in otp.py, per IP in ratelimits.py).
    throttle_classes: list = []
    # Ours, not the project's defaults: they refuse odd bodies with a 400 (parsers.py).
    parser_classes = [StrictJSONParser, StrictFormParser, StrictMultiPartParser]

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)
        except exceptions.PermissionDenied as error:
            # DRF's SessionAuthentication refuses a signed-in session's POST that lacks Django's CSRF
            # token (the one PermissionDenied DRF's authentication raises): the refusal a sign-in
            # without the token gets, so the same machine code, not "permission_denied".
            raise CsrfRequired(str(error.detail)) from None

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, HuyiError):
            problem = describe(exc)
            headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
            return Response(problem.as_json(), status=problem.status, headers=headers)
        if isinstance(exc, exceptions.ValidationError):
            return Response(
                {"code": "invalid", "detail": gettext("Some fields are missing or not valid."), "fields": exc.detail},
                status=400,
            )
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)
            code = exc.get_codes() if isinstance(exc.detail, str) else exc.default_code
            response.data = {"code": code, "detail": str(exc.detail)}
            return response
        return super().handle_exception(exc)

    def valid_data(self, serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class OtpRequestView(OtpApiView):
    """Send a code. Answers the same whether or not a sign-in or reset number has an account."""

    @method_decorator(private)
    def post(self, request: Request) -> Response:
        data = self.valid_data(RequestCodeSerializer, request)
        channel = data["channel"]
        flows.send_code(request, data["mobile"], data["purpose"], channel)
        if channel == otp.VOICE:
            detail = gettext("If this number can receive one, a call will speak the code.")
        else:
            detail = gettext("If this number can receive one, a code is on its way.")
        return Response(
            {
                "detail": detail,
                "channel": channel,
                "resend_after": huyi_settings.OTP["RESEND_INTERVAL"],
                "expires_in": huyi_settings.OTP["TTL"],
                # When the app may offer "receive a voice call instead" (POST again with channel "voice"):
                # the same for every number, so it tells nobody who has an account. None: no offer.
                "voice_after": huyi_settings.OTP["VOICE_FALLBACK_AFTER"] if channel == otp.SMS else None,
            }
        )


class OtpVerifyView(OtpApiView):
    """Check a code and do what its purpose is for: sign in, set a new password, or verify a phone."""

    @method_decorator(private)
    def post(self, request: Request) -> Response:
        data = self.valid_data(VerifyCodeSerializer, request)
        purpose = data["purpose"]
        if purpose == flows.LOGIN:
            return self.sign_in(request, data)
        if purpose == flows.PASSWORD_RESET:
            flows.reset_password(request, data["mobile"], data["code"], data["new_password"])
            return Response({"detail": gettext("Your password has been set.")})
        mobile = flows.verify_phone(request, data["mobile"], data["code"])
        return Response({"detail": gettext("Your mobile number is verified."), "mobile": mobile})

    def sign_in(self, request: Request, data: dict[str, Any]) -> Response:
        # A browser page of the site passes Django's CSRF check and gets a session; an app
        # (no CSRF cookie) gets a token. A cross-site form gets neither, so it cannot sign
        # a visitor's browser in to somebody else's account.
        session = _passes_csrf_check(request)
        if not session and not flows.token_auth_installed():
            raise CsrfRequired(gettext("Send Django's CSRF token, or install rest_framework.authtoken for apps."))
        user = flows.sign_in(request, data["mobile"], data["code"], session=session)
        body: dict[str, Any] = {
            "detail": gettext("Signed in."),
            "user": {"id": user.pk, "username": user.get_username()},
            "session": session,
        }
        token = flows.api_token(user)
        if token is not None:
            body["token"] = token
        return Response(body)


def _passes_csrf_check(request: Request) -> bool:
    try:
        SessionAuthentication().enforce_csrf(request)
    except exceptions.PermissionDenied:
        return False
    return True
