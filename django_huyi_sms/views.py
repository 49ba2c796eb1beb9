"""Pages for the code flows: sign in with a code, reset a password, verify a phone.

Thin: the forms call ``flows``. Every page works without JavaScript (the
"send code" button is a submit button of the same form); with it, the button
counts down until another code may be asked for, and "receive a voice call
instead" appears once the SMS code has had ``OTP["VOICE_FALLBACK_AFTER"]``
seconds to arrive. The countdown starts from the server's figure
(``flows.resend_in``), so it is there again when a page comes back with a wrong
code. While the site sends to a sandbox it serves, the pages link to the phone
page where the code can be read. Templates extend ``django_huyi_sms/base.html``,
which a site overrides to put them in its layout.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import LoginView
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from . import flows, otp
from .adapter import get_adapter
from .conf import huyi_settings
from .exceptions import HuyiApiError
from .forms import CodeLoginForm, RequestCodeForm, SetPasswordWithCodeForm, VerifyPhoneForm
from .parsers import form_problem
from .privacy import PRIVATE_POST_PARAMETERS, private
from .provider import is_provider_host, mask_mobile

__all__ = [
    "CodeLoginView",
    "PasswordResetView",
    "PasswordResetConfirmView",
    "PasswordResetCompleteView",
    "VerifyPhoneView",
    "sandbox_phone_url",
]

#: The name of the "send code" submit button in every form of these pages…
SEND_CODE = "send_code"
#: …and of "receive a voice call instead", which asks for the code in a call.
SEND_VOICE_CODE = "send_voice_code"
#: Where the reset flow remembers the number between its two pages.
RESET_MOBILE_SESSION_KEY = "huyi_sms_reset_mobile"

#: Where a sandbox's pages may be mounted: under the app's own URLs (they answer only while
#: ``SANDBOX_SITE`` is set), or by the site itself.
APP_SANDBOX_NAMESPACE = "huyi_sms:sandbox"
SITE_SANDBOX_NAMESPACE = "huyi_sandbox"

_View = Callable[..., HttpResponseBase]


def sandbox_phone_url(mobile: str = "") -> str:
    """The sandbox page where ``mobile``'s messages can be read (the list of phones without one), or "".

    Only while this site's SMS go to a sandbox (the ihuyi backend, pointed at a
    host that is not ihuyi's) whose pages it serves: a site that sends for real,
    or to the locmem backend, shows no such link, nor one whose sandbox is not
    mounted.
    """
    from .backends.ihuyi import IhuyiBackend

    try:
        backend = huyi_settings.BACKEND
        api_url = huyi_settings.product("sms").api_url
    except ImproperlyConfigured:
        return ""  # reported by manage.py check; a page must not break over it
    if not (isinstance(backend, type) and issubclass(backend, IhuyiBackend)):
        return ""
    if is_provider_host(urlsplit(api_url).hostname or ""):
        return ""
    namespaces = [APP_SANDBOX_NAMESPACE] if huyi_settings.SANDBOX_SITE else []
    for namespace in [*namespaces, SITE_SANDBOX_NAMESPACE]:
        try:
            if mobile:
                return reverse(f"{namespace}:phone", kwargs={"mobile": mobile})
            return reverse(f"{namespace}:index")
        except NoReverseMatch:
            continue
    return ""


def _normalized(mobile: Any) -> str:
    """``mobile`` as the adapter stores numbers, or "" for anything that is not one."""
    if not isinstance(mobile, str) or not mobile.strip():
        return ""
    try:
        return get_adapter().normalize_mobile(mobile)
    except HuyiApiError:
        return ""


def readable_form(view: _View) -> _View:
    """A POST whose form cannot be read (an odd charset, a lone surrogate) is a 400 saying why, not a 500."""

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            problem = form_problem(request)
            if problem is not None:
                return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
        return view(request, *args, **kwargs)

    return checked


_protected: list[Callable[[_View], _View]] = [
    readable_form,  # first: the CSRF check reads the form too
    sensitive_post_parameters(*PRIVATE_POST_PARAMETERS),
    csrf_protect,
    never_cache,
]


if TYPE_CHECKING:
    # SendCodeMixin is only ever mixed into a FormView (LoginView is one): type-check it as one.
    _FormView = FormView
else:
    _FormView = object


class SendCodeMixin(_FormView):
    """A page whose form has a "send code" button beside its own submit button."""

    purpose: str = flows.LOGIN

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if SEND_VOICE_CODE in request.POST:
            return self.send_code(otp.VOICE)
        if SEND_CODE in request.POST:
            return self.send_code()
        return super().post(request, *args, **kwargs)

    def mobile_to_send_to(self) -> Any:
        return self.request.POST.get("mobile", "")

    def send_code(self, channel: str = otp.SMS) -> HttpResponse:
        # The number is not kept in a local of its own: error reports print every frame's locals.
        send_form = RequestCodeForm(
            self.request, data={"mobile": self.mobile_to_send_to()}, purpose=self.purpose, channel=channel
        )
        sent = send_form.send_code()
        form = self.unbound_form(initial={"mobile": send_form.data["mobile"]})
        # A refusal's own wait (a limit), else the number's resend interval as the throttle counts it.
        resend_in = send_form.retry_after or self.resend_in()
        context = self.get_context_data(
            form=form, send_form=send_form, code_sent=sent, code_channel=channel, resend_in=resend_in
        )
        return self.render_to_response(context)

    @method_decorator(private)
    def page_mobile(self) -> str:
        """The number the page is about, normalised ("" before one is typed, or when it is not one)."""
        return _normalized(self.mobile_to_send_to()) if self.request.method == "POST" else ""

    @method_decorator(private)
    def resend_in(self) -> int | None:
        """Seconds until the page's number may be sent another code (``None``: now, or no number yet)."""
        mobile = self.page_mobile()
        return flows.resend_in(mobile, self.purpose) if mobile else None

    @method_decorator(private)
    def voice_in(self) -> int | None:
        """Seconds until the page offers "receive a voice call instead" (0: now), or ``None``.

        For the number the page is about, once it has one: the one typed, or the
        reset flow's. The same for a number with or without an account (flows).
        """
        mobile = self.mobile_to_send_to() if self.request.method == "POST" else ""
        if not isinstance(mobile, str) or not mobile.strip():
            return None
        return flows.voice_fallback_in(mobile, self.purpose)

    def unbound_form(self, initial: dict[str, Any]) -> Any:
        """The page's own form, empty but for ``initial``, shown again after a code was asked for."""
        return self.get_form_class()(self.request, initial=initial)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("send_code_name", SEND_CODE)
        context.setdefault("send_voice_code_name", SEND_VOICE_CODE)
        context.setdefault("voice_channel", otp.VOICE)
        context.setdefault("voice_in", self.voice_in())
        context.setdefault("resend_in", self.resend_in())
        context.setdefault("sandbox_phone_url", sandbox_phone_url(self.page_mobile()))
        context.setdefault("code_ttl_minutes", max(1, huyi_settings.OTP["TTL"] // 60))
        context.setdefault("challenge_form", get_adapter().get_challenge_form(self.request))
        return context


@method_decorator(_protected, name="dispatch")
class CodeLoginView(SendCodeMixin, LoginView):
    """Sign in with a mobile number and an SMS code (``next`` is honoured as by Django's LoginView)."""

    template_name = "django_huyi_sms/login.html"
    authentication_form = CodeLoginForm  # type: ignore[assignment]  # LoginView needs only get_user()
    purpose = flows.LOGIN


@method_decorator(_protected, name="dispatch")
class PasswordResetView(FormView):
    """Step 1: the number. A code goes to it only if it has an account; the answer is the same."""

    template_name = "django_huyi_sms/password_reset_form.html"
    form_class = RequestCodeForm
    success_url = reverse_lazy("huyi_sms:password_reset_confirm")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request, "purpose": flows.PASSWORD_RESET}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context["form"]
        mobile = form.cleaned_data.get("mobile", "") if form.is_bound and hasattr(form, "cleaned_data") else ""
        return {
            **context,
            "challenge_form": get_adapter().get_challenge_form(self.request),
            # A refused request ("too soon") counts down on the page's one button, which sends the code.
            "resend_in": form.retry_after,
            "sandbox_phone_url": sandbox_phone_url(mobile),
        }

    def form_valid(self, form: RequestCodeForm) -> HttpResponse:
        if not form.send_code():
            return self.form_invalid(form)
        self.request.session[RESET_MOBILE_SESSION_KEY] = form.cleaned_data["mobile"]
        return super().form_valid(form)


@method_decorator(_protected, name="dispatch")
class PasswordResetConfirmView(SendCodeMixin, FormView):
    """Step 2: the code and a new password (or another code, with the countdown)."""

    template_name = "django_huyi_sms/password_reset_confirm.html"
    form_class = SetPasswordWithCodeForm
    success_url = reverse_lazy("huyi_sms:password_reset_complete")
    purpose = flows.PASSWORD_RESET

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.mobile: str = request.session.get(RESET_MOBILE_SESSION_KEY) or ""
        if not self.mobile:
            return redirect("huyi_sms:password_reset")
        return super().dispatch(request, *args, **kwargs)

    def mobile_to_send_to(self) -> Any:
        return self.mobile

    def voice_in(self) -> int | None:
        # The number is the session's from the start: the offer shows on the page's first view too.
        return flows.voice_fallback_in(self.mobile, self.purpose)

    def page_mobile(self) -> str:
        # So is the countdown: the page right after step 1 counts down from the code step 1 asked for.
        return self.mobile

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request, "mobile": self.mobile}

    def unbound_form(self, initial: dict[str, Any]) -> SetPasswordWithCodeForm:
        return SetPasswordWithCodeForm(self.request, mobile=self.mobile)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "masked_mobile": mask_mobile(self.mobile)}

    def form_valid(self, form: SetPasswordWithCodeForm) -> HttpResponse:
        self.request.session.pop(RESET_MOBILE_SESSION_KEY, None)
        return super().form_valid(form)


class PasswordResetCompleteView(TemplateView):
    """Step 3: done; sign in with the new password."""

    template_name = "django_huyi_sms/password_reset_complete.html"


@method_decorator(_protected, name="dispatch")
class VerifyPhoneView(LoginRequiredMixin, SendCodeMixin, FormView):
    """A signed-in user adds or changes their verified mobile number."""

    template_name = "django_huyi_sms/verify_phone.html"
    form_class = VerifyPhoneForm
    purpose = flows.VERIFY_PHONE

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        current = get_adapter().get_user_mobile(self.request.user)
        return {**super().get_context_data(**kwargs), "current_mobile": current}

    def form_valid(self, form: VerifyPhoneForm) -> HttpResponse:
        messages.success(
            self.request,
            _("Your mobile number %(mobile)s is verified.") % {"mobile": mask_mobile(form.cleaned_data["mobile"])},
        )
        return HttpResponseRedirect(reverse("huyi_sms:verify_phone"))
