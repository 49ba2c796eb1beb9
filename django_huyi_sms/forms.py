"""Forms for the code flows: ask for a code, sign in with it, reset a password, verify a phone.

They validate input and call ``flows``; a refused request or a wrong code
becomes a form error in the person's language. Each takes the ``request``
(the per-IP limits and the adapter's pre-send check need it).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import flows, otp
from .adapter import get_adapter
from .conf import huyi_settings
from .exceptions import HuyiError, HuyiRecipientError, ResendTooSoon
from .privacy import private
from .problems import describe

__all__ = [
    "MobileField",
    "CodeField",
    "RequestCodeForm",
    "CodeLoginForm",
    "SetPasswordWithCodeForm",
    "VerifyPhoneForm",
]


class MobileField(forms.CharField):
    """A mobile number, normalised by the adapter (``+86 138-0013-8000`` → ``13800138000``)."""

    default_error_messages = {"invalid": _("Enter a valid mobile number: 11 digits, starting with 1.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 32)
        attrs = {"inputmode": "tel", "autocomplete": "tel", "placeholder": "13800138000"}
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        try:
            return get_adapter().normalize_mobile(value)
        except HuyiRecipientError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class CodeField(forms.CharField):
    """The digits of a one-time code (spaces forgiven)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Code"))
        kwargs.setdefault("max_length", 16)
        attrs = {
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": "[0-9 ]*",
            # Drawn when the page is, not read at import: a wrong OTP setting must not break URL loading.
            "placeholder": lazy(lambda: "0" * huyi_settings.OTP["LENGTH"], str)(),
        }
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return "".join(str(super().to_python(value)).split())


class _FlowForm(forms.Form):
    """A form bound to the request, that turns a flow's refusal into a form error."""

    #: The field a refusal is shown on (``None``: the form as a whole).
    problem_field: str | None = None

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        #: Seconds before another code may be asked for, when a limit said so.
        self.retry_after: int | None = None
        super().__init__(*args, **kwargs)

    @property
    def flow_request(self) -> HttpRequest:
        """The request the flow runs for (its address counts against the limits); a form needs one to act."""
        if self.request is None:
            raise TypeError(f"{type(self).__name__} needs the request: {type(self).__name__}(request, data=…)")
        return self.request

    @method_decorator(private)  # and the flow it runs
    def clean(self) -> dict[str, Any]:
        super().clean()
        if not self.errors:
            try:
                self.run_flow(self.cleaned_data)
            except HuyiError as error:
                self.add_problem(error)
        return self.cleaned_data

    def run_flow(self, cleaned: dict[str, Any]) -> None:
        """Once every field is valid: check the code with the flow (a refusal becomes a form error)."""

    def add_problem(self, error: HuyiError, field: str | None = None) -> None:
        problem = describe(error)
        self.retry_after = problem.retry_after
        message = problem.message
        if isinstance(error, ResendTooSoon):
            # "Too soon" says how soon: the form may be shown with no countdown (no JavaScript, a site's own template).
            message = f"{message} " + ngettext(
                "You can ask for another code in %(seconds)d second.",
                "You can ask for another code in %(seconds)d seconds.",
                error.retry_after,
            ) % {"seconds": error.retry_after}
        self.add_error(field if field is not None else self.problem_field, message)


class RequestCodeForm(_FlowForm):
    """The number to send a ``purpose`` code to. ``send_code()`` asks for it, by ``channel`` (``"voice"``: a call)."""

    problem_field = "mobile"
    mobile = MobileField()

    def __init__(
        self,
        request: HttpRequest | None = None,
        *args: Any,
        purpose: str = flows.LOGIN,
        channel: str = otp.SMS,
        **kwargs: Any,
    ):
        self.purpose = purpose
        self.channel = channel
        super().__init__(request, *args, **kwargs)

    @method_decorator(private)
    def send_code(self) -> bool:
        """Ask for the code if the form is valid; on refusal add the reason as an error. True if asked.

        For sign-in and password reset, True does not mean a code left: a
        number with no account gets none, and the answer is the same.
        """
        if not self.is_valid():
            return False
        try:
            flows.send_code(self.flow_request, self.cleaned_data["mobile"], self.purpose, self.channel)
        except HuyiError as error:
            self.add_problem(error)
            return False
        return True


class CodeLoginForm(_FlowForm):
    """Sign in with a number and its login code: an ``authentication_form`` for ``LoginView``."""

    problem_field = "code"
    mobile = MobileField()
    code = CodeField()

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.user_cache: AbstractBaseUser | None = None
        super().__init__(request, *args, **kwargs)

    def run_flow(self, cleaned: dict[str, Any]) -> None:
        self.user_cache = flows.authenticate_code(self.flow_request, cleaned["mobile"], cleaned["code"])

    def get_user(self) -> AbstractBaseUser | None:
        return self.user_cache


class SetPasswordWithCodeForm(_FlowForm):
    """A new password for ``mobile``'s account, proven by its ``password_reset`` code."""

    problem_field = "code"
    code = CodeField()
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=_("New password confirmation"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, mobile: str = "", **kwargs: Any) -> None:
        self.mobile = mobile
        self.user: AbstractBaseUser | None = None
        super().__init__(request, *args, **kwargs)

    def clean_new_password2(self) -> str:
        first = self.cleaned_data.get("new_password1")
        second = self.cleaned_data.get("new_password2", "")
        if first and second and first != second:
            raise forms.ValidationError(_("The two password fields didn't match."), code="password_mismatch")
        # Validated before the code is checked, so a weak password does not use the code up.
        password_validation.validate_password(second)
        return second

    def run_flow(self, cleaned: dict[str, Any]) -> None:
        self.user = flows.reset_password(self.flow_request, self.mobile, cleaned["code"], cleaned["new_password2"])


class VerifyPhoneForm(_FlowForm):
    """A signed-in user proves a number is theirs with its ``verify_phone`` code."""

    problem_field = "code"
    mobile = MobileField()
    code = CodeField()

    def run_flow(self, cleaned: dict[str, Any]) -> None:
        cleaned["mobile"] = flows.verify_phone(self.flow_request, cleaned["mobile"], cleaned["code"])
