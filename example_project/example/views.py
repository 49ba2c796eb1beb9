"""The example's page: what the demo is, a form that sends a test SMS, the latest sends (staff or sandbox).

After a send the page comes back at the form (``#send``) with the text kept and
the send's result beside it; a small script asks :func:`send_statuses` every few
seconds until the status is final, so ``submitted`` turns ``delivered`` on its own.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from django_huyi_sms import send_sms
from django_huyi_sms.conf import huyi_settings
from django_huyi_sms.exceptions import HuyiContentError, HuyiError, HuyiRecipientError
from django_huyi_sms.models import SmsLog
from django_huyi_sms.views import sandbox_phone_url

# The vendor's default template: a trial account may send only this text.
DEFAULT_CONTENT = "您的验证码是：1234。请不要把验证码泄露给其他人。"
# The session remembers this browser's last send, and the text it typed, so both survive the redirect.
LAST_SEND_KEY = "example_last_sms_log"
LAST_CONTENT_KEY = "example_last_content"
# Where the page comes back after a send: the form, with the result beside it.
SEND_ANCHOR = "send"
# How many sends one status request may ask about: the page shows at most 11 (its own and the latest ten).
MAX_STATUS_IDS = 20


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
    staff_or_sandbox = _may_see_sends(request)
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
                request.session[LAST_CONTENT_KEY] = form.cleaned_data["content"]
                # Back to the form, where the person is looking, with the result beside it.
                return redirect(f"{reverse('home')}#{SEND_ANCHOR}")
    else:
        initial = {"mobile": last_log.mobile, "content": request.session.get(LAST_CONTENT_KEY)} if last_log else {}
        form = SendTestSmsForm(initial={key: value for key, value in initial.items() if value})

    return render(
        request,
        "example/home.html",
        {
            "form": form,
            "can_send": staff_or_sandbox,
            "use_sandbox": settings.USE_SANDBOX,
            "account": huyi_settings.product("sms").account,
            "send_anchor": SEND_ANCHOR,
            "max_status_ids": MAX_STATUS_IDS,
            "last_log": last_log,
            "last_phone_url": sandbox_phone_url(last_log.mobile) if last_log else "",
            "sandbox_url": sandbox_phone_url(),
            # None: not shown (an empty list: nothing sent yet).
            "recent_logs": SmsLog.objects.all()[:10] if staff_or_sandbox else None,
        },
    )


@require_GET
@never_cache
def send_statuses(request: HttpRequest) -> JsonResponse:
    """``?id=1&id=2``: those sends' statuses, for the home page to follow them without a reload.

    Only for whoever may see the latest sends on the page (staff, or anyone in the
    sandbox), and only what the page shows: the masked number, never the text.
    """
    if not _may_see_sends(request):
        return JsonResponse({"detail": gettext("The latest messages are shown to staff only.")}, status=403)
    raw = request.GET.getlist("id")
    if not raw or len(raw) > MAX_STATUS_IDS or not all(value.isascii() and value.isdigit() for value in raw):
        detail = gettext("Give the sends as id=…, 1 to %(count)d whole numbers.") % {"count": MAX_STATUS_IDS}
        return JsonResponse({"detail": detail}, status=400)
    logs = SmsLog.objects.filter(pk__in={int(value) for value in raw}).order_by("pk")
    return JsonResponse({"sends": [_status(log) for log in logs]})


def _status(log: SmsLog) -> dict[str, object]:
    return {
        "id": log.pk,
        "status": log.status,
        "label": log.get_status_display(),
        "final": log.is_final,
        "mobile": log.masked_mobile,
        "smsid": log.smsid,
    }


def _may_see_sends(request: HttpRequest) -> bool:
    # With a real account every send costs money and reaches a real phone, and the latest sends
    # are real people's (masked numbers, smsids, statuses): both are for staff only. In the
    # sandbox nothing is real, and every visitor may try it.
    return bool(settings.USE_SANDBOX or request.user.is_staff)


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
