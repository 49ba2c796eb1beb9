"""The JSON API's OpenAPI description, for sites that publish a schema with drf-spectacular.

``pip install "django-huyi-sms[openapi]"``. ``HuyiSmsConfig.ready`` imports this module
only when drf-spectacular is installed; without it nothing here is loaded and nothing
changes. Importing it registers drf-spectacular extensions, so a site's own
``SpectacularAPIView`` (or ``manage.py spectacular``) describes:

* ``api/otp/`` and ``api/otp/verify/`` with what they really take and answer: the
  request fields, each success body, and every error's status and body, down to the
  machine ``code`` values each status can carry (``api.py``, ``problems.py``);
* not the push URLs (``push/receipt/``, ``push/reply/``, ``push/template/``): ihuyi calls
  them with a secret token, and no client of the site's API should.

The serializers below describe answers only; the views build their answers themselves.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.views import APIView

from . import otp
from .api import RequestCodeSerializer, VerifyCodeSerializer
from .exceptions import (
    ChallengeFailed,
    CodeExpired,
    DailyLimitReached,
    InvalidCode,
    NotSignedIn,
    RateLimited,
    ResendTooSoon,
    SiteLimitReached,
    TooManyAttempts,
    VoiceNotOffered,
    VoiceTooSoon,
)

__all__ = ["MachineCode", "app_schema"]

# The machine codes each status can carry. The OTP refusals name themselves (``reason``);
# the others are problems.py's and api.py's own.
INVALID = "invalid"  # api.py: a serializer's errors, with "fields"
PARSE_ERROR = "parse_error"  # DRF: a body that is not JSON
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # DRF: a body of another type
INVALID_MOBILE = "invalid_mobile"  # problems.py: HuyiRecipientError
SMS_UNAVAILABLE = "sms_unavailable"  # problems.py: any other HuyiApiError of the send
CSRF_FAILED = "csrf_failed"  # api.CsrfRequired: a session's POST without Django's CSRF token
# DRF: credentials (a Basic or Token header, say) that the site's authentication classes refuse; 401
# when the first of those classes names a WWW-Authenticate scheme, 403 when it does not (sessions).
AUTHENTICATION_FAILED = "authentication_failed"

REQUEST_CODE_400 = (PARSE_ERROR, INVALID_MOBILE, ChallengeFailed.reason, VoiceNotOffered.reason)
REQUEST_CODE_429 = (
    ResendTooSoon.reason,
    VoiceTooSoon.reason,
    DailyLimitReached.reason,
    SiteLimitReached.reason,
    # The per-IP limit, and the provider's own "too many to this number" (problems.py): one code.
    RateLimited.reason,
)
VERIFY_CODE_400 = (PARSE_ERROR, InvalidCode.reason, CodeExpired.reason, TooManyAttempts.reason)
VERIFY_CODE_429 = (RateLimited.reason,)


class MachineCode(serializers.CharField):
    """An error's ``code``: one of a fixed list of stable machine strings (the schema's ``enum``)."""

    def __init__(self, *codes: str, **kwargs: Any) -> None:
        self.codes = codes
        kwargs.setdefault("help_text", _("A stable machine code: branch on it, not on the detail."))
        super().__init__(**kwargs)


class MachineCodeExtension(OpenApiSerializerFieldExtension):
    target_class = MachineCode

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "enum": list(self.target.codes)}
        if self.target.help_text:
            schema["description"] = str(self.target.help_text)
        return schema


def _detail() -> serializers.CharField:
    return serializers.CharField(help_text=_("A sentence for the person, in the request's language."))


def _problem(name: str, *codes: str, retry_after: bool = False) -> serializers.Serializer:
    """An error body ``{"code", "detail"}`` (and ``retry_after`` for a limit), as problems.Problem.as_json."""
    fields: dict[str, serializers.Field] = {"code": MachineCode(*codes), "detail": _detail()}
    if retry_after:
        fields["retry_after"] = serializers.IntegerField(
            min_value=1, help_text=_("Seconds to wait before trying again; the Retry-After header says the same.")
        )
    return inline_serializer(name=name, fields=fields)


# One component per enum of codes, so every enum is named after the one body that holds it.
_INVALID_FIELDS = inline_serializer(
    name="InvalidFields",
    fields={
        "code": MachineCode(INVALID),
        "detail": _detail(),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text=_("Each field that is missing or not valid, with its errors."),
        ),
    },
)
_NOT_AUTHENTICATED = _problem("NotAuthenticated", NotSignedIn.reason, AUTHENTICATION_FAILED)
_FORBIDDEN = _problem("Forbidden", CSRF_FAILED, AUTHENTICATION_FAILED)
_UNSUPPORTED_MEDIA_TYPE = _problem("UnsupportedMediaType", UNSUPPORTED_MEDIA_TYPE)


def _bad_request(name: str, *codes: str) -> PolymorphicProxySerializer:
    """400: the fields' errors (``invalid``, with ``fields``), or one of ``codes``."""
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[_INVALID_FIELDS, _problem(f"{name}Problem", *codes)],
        resource_type_field_name=None,
    )


class CodeSentSerializer(serializers.Serializer):
    detail = _detail()
    channel = serializers.ChoiceField(choices=otp.CHANNELS)
    resend_after = serializers.IntegerField(help_text=_("Seconds before another code may be asked for."))
    expires_in = serializers.IntegerField(help_text=_("Seconds the code stays valid."))
    voice_after = serializers.IntegerField(
        allow_null=True,
        help_text=_(
            'Seconds after which the app may offer a voice call instead (POST again with channel "voice"); '
            "null: not offered."
        ),
    )


class ClosedAnswer(serializers.Serializer):
    """An answer body with these keys and no other (``additionalProperties: false``).

    For verify's answers, which its schema gives as a ``oneOf``: open, a sign-in's body
    (``detail`` and more) would be a password reset's (``detail``) too, and match two.
    """


class ClosedAnswerExtension(OpenApiSerializerExtension):
    target_class = ClosedAnswer
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class SignedInUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The user's primary key."))
    username = serializers.CharField()


class SignedInSerializer(ClosedAnswer):
    detail = _detail()
    user = SignedInUserSerializer()
    session = serializers.BooleanField(
        help_text=_("Whether the request passed Django's CSRF check and was signed in to a session.")
    )
    token = serializers.CharField(
        required=False,
        help_text=_("The user's DRF auth token; present when rest_framework.authtoken is installed."),
    )


class PasswordSetSerializer(ClosedAnswer):
    detail = _detail()


class PhoneVerifiedSerializer(ClosedAnswer):
    detail = _detail()
    mobile = serializers.CharField(help_text=_("The number now verified for the signed-in user, normalised."))


_RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    type=int,
    location=OpenApiParameter.HEADER,
    response=[429],
    description=_("Seconds to wait before trying again."),
)


def _responses(prefix: str, success: OpenApiResponse, *, bad_request: tuple[str, ...], limits: tuple[str, ...]) -> dict:
    """The answers both endpoints share, with each one's own codes."""
    return {
        200: success,
        400: OpenApiResponse(_bad_request(f"{prefix}BadRequest", *bad_request), _("Bad input, or a refusal.")),
        401: OpenApiResponse(
            _NOT_AUTHENTICATED,
            _("purpose verify_phone without a signed-in user, or credentials the site's authentication refuses."),
        ),
        403: OpenApiResponse(
            _FORBIDDEN,
            _(
                "A signed-in session's request, or (verify) a login, without Django's CSRF token while "
                "rest_framework.authtoken is not installed; or credentials the site's session-first "
                "authentication refuses."
            ),
        ),
        415: OpenApiResponse(_UNSUPPORTED_MEDIA_TYPE, _("A body that is not JSON, form-encoded or multipart.")),
        429: OpenApiResponse(
            _problem(f"{prefix}TooManyRequests", *limits, retry_after=True),
            _("A limit: wait retry_after seconds."),
        ),
    }


_REQUEST_CODE_SCHEMA = extend_schema(
    summary=_("Send a one-time code"),
    description=_(
        "Sends a code for the purpose to the number, by SMS or (channel voice) in a call. For login and "
        "password_reset the answer is the same whether or not the number has an account."
    ),
    tags=["huyi_sms"],
    request=RequestCodeSerializer,
    responses={
        **_responses(
            "RequestCode",
            OpenApiResponse(CodeSentSerializer, _("The code is on its way (for a number with no account: not).")),
            bad_request=REQUEST_CODE_400,
            limits=REQUEST_CODE_429,
        ),
        503: OpenApiResponse(
            _problem("RequestCodeUnavailable", SMS_UNAVAILABLE),
            _("The SMS could not be sent now (the account, the settings or the network)."),
        ),
    },
    parameters=[_RETRY_AFTER_HEADER],
)

_VERIFY_CODE_SCHEMA = extend_schema(
    summary=_("Check a one-time code and act on it"),
    description=_(
        "login signs in (a session after Django's CSRF check, and a token where rest_framework.authtoken is "
        "installed); password_reset sets new_password; verify_phone gives the signed-in user the number."
    ),
    tags=["huyi_sms"],
    request=VerifyCodeSerializer,
    responses={
        **_responses(
            "VerifyCode",
            OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="CodeVerified",
                    serializers=[SignedInSerializer, PasswordSetSerializer, PhoneVerifiedSerializer],
                    resource_type_field_name=None,
                ),
                _("The code was right: signed in (login), password set (password_reset) or number verified."),
            ),
            bad_request=VERIFY_CODE_400,
            limits=VERIFY_CODE_429,
        ),
    },
    parameters=[_RETRY_AFTER_HEADER],
)


def _subclass(view: type[APIView]) -> type[APIView]:
    """A subclass to annotate: drf-spectacular swaps it in for schema generation only."""
    return type(view.__name__, (view,), {"__module__": view.__module__})


class RequestCodeViewExtension(OpenApiViewExtension):
    target_class = "django_huyi_sms.api.OtpRequestView"

    def view_replacement(self) -> type[APIView]:
        return _REQUEST_CODE_SCHEMA(_subclass(self.target))


class VerifyCodeViewExtension(OpenApiViewExtension):
    target_class = "django_huyi_sms.api.OtpVerifyView"

    def view_replacement(self) -> type[APIView]:
        return _VERIFY_CODE_SCHEMA(_subclass(self.target))


class PushViewExtension(OpenApiViewExtension):
    """Leaves the push URLs out: they are the provider's to call, not an API of the site."""

    target_class = "django_huyi_sms.pushes.views.PushView"
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        return extend_schema(exclude=True)(_subclass(self.target))


def app_schema(prefix: str = "sms/") -> dict[str, Any]:
    """The OpenAPI document of this app's URLs alone, included at ``prefix`` (what ``docs/openapi.yaml`` holds).

    A site that serves its whole API's schema does not need this: its
    ``SpectacularAPIView`` finds the app's URLs in the site's own URLconf.
    Needs DRF's ``DEFAULT_SCHEMA_CLASS`` to be drf-spectacular's ``AutoSchema``,
    as drf-spectacular itself does.
    """
    generator = SchemaGenerator(patterns=[path(prefix, include("django_huyi_sms.urls"))])
    return generator.get_schema(request=None, public=True)
