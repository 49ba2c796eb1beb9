"""The example's one page: what the demo is, a form that sends a test SMS, the latest sends (staff or sandbox)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from django_huyi_sms import send_sms
from django_huyi_sms.conf import huyi_settings
from django_huyi_sms.exceptions import HuyiContentError, HuyiError, HuyiRecipientError
from django_huyi_sms.models import SmsLog

# The vendor's default template: a trial account may send only this text.
DEFAULT_CONTENT = "您的验证码是：1234。请不要把验证码泄露给其他人。"
# The session remembers this browser's last send, so the result survives the redirect.
LAST_SEND_KEY = "example_last_sms_log"


class SendTestSmsForm(forms.Form):
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "13800138000"}),
    )
    # No length cap here on purpose: the app's own checks answer with the provider's code (4073).
    content = forms.CharField(
        label=_("Message"),
        initial=DEFAULT_CONTENT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def home(request: HttpRequest) -> HttpResponse:
    # With a real account every send costs money and reaches a real phone, and the latest sends
    # are real people's (masked numbers, smsids, statuses): both are for staff only. In the
    # sandbox nothing is real, and every visitor may try it.
    staff_or_sandbox = settings.USE_SANDBOX or request.user.is_staff
    last_log = _last_send(request)

    if request.method == "POST":
        form = SendTestSmsForm(request.POST)
        if not staff_or_sandbox:
            form.add_error(None, _("Sign in to the admin as staff to send real messages."))
        elif form.is_valid():
            try:
                log = send_sms(form.cleaned_data["mobile"], form.cleaned_data["content"], purpose="demo")
            except HuyiError as error:
                form.add_error(_field_for(error), str(error))
            else:
                request.session[LAST_SEND_KEY] = log.pk
                return redirect("home")
    else:
        form = SendTestSmsForm(initial={"mobile": last_log.mobile} if last_log else None)

    return render(
        request,
        "example/home.html",
        {
            "form": form,
            "can_send": staff_or_sandbox,
            "use_sandbox": settings.USE_SANDBOX,
            "account": huyi_settings.product("sms").account,
            "last_log": last_log,
            "last_phone_url": _sandbox_phone_url(last_log.mobile) if last_log else "",
            "sandbox_url": reverse("huyi_sms:sandbox:index") if settings.USE_SANDBOX else "",
            # None: not shown (an empty list: nothing sent yet).
            "recent_logs": SmsLog.objects.all()[:10] if staff_or_sandbox else None,
        },
    )


def _last_send(request: HttpRequest) -> SmsLog | None:
    pk = request.session.get(LAST_SEND_KEY)
    if pk is None:
        return None
    return SmsLog.objects.filter(pk=pk).first()


def _field_for(error: HuyiError) -> str | None:
    """The form field an error belongs to: the number, the text, or the form as a whole."""
    if isinstance(error, HuyiRecipientError):
        return "mobile"
    if isinstance(error, HuyiContentError):
        return "content"
    return None


def _sandbox_phone_url(mobile: str) -> str:
    if not settings.USE_SANDBOX:
        return ""
    return reverse("huyi_sms:sandbox:phone", kwargs={"mobile": mobile})
