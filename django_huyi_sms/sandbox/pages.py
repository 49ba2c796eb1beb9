"""The sandbox's HTML pages, whichever server serves them: what each page shows and what its forms do.

A page function takes the gateway, the :class:`~.paths.Links` of the server
that serves it and the request's fields, and returns a :class:`Page` (a
template, its context and a status) or a redirect. ``views.py`` renders it
inside a Django site; ``standalone.py`` renders the same templates for
``manage.py huyi_sandbox``. Neither has markup or form handling of its own.

Times are shown in the site's time zone (``TIME_ZONE``, or the zone a view
activated), as the admin shows the app's records; the JSON keeps the
provider's China time, as ihuyi writes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..provider import CHINA, TIME_FORMAT
from ..template_variables import DEFAULT_TEMPLATE, DEFAULT_TEMPLATE_ID
from .gateway import SandboxGateway
from .inbox import SandboxMessage, SandboxReply
from .paths import MOBILE, Links

__all__ = [
    "Page",
    "ReplyForm",
    "TemplateReviewForm",
    "index_page",
    "phone_page",
    "review_template",
    "site_time",
    "way_back",
]

INDEX_TEMPLATE = "django_huyi_sms/sandbox/index.html"
PHONE_TEMPLATE = "django_huyi_sms/sandbox/phone.html"


class ReplyForm(forms.Form):
    """What the person at the phone texts back."""

    content = forms.CharField(
        label=_("Reply"),
        max_length=300,  # the provider's content limit
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. TD to unsubscribe")}),
    )


class TemplateReviewForm(forms.Form):
    """The provider's review of a template submitted with AddTemplate: approve or reject, with a reason."""

    APPROVE = "approve"
    REJECT = "reject"

    templateid = forms.IntegerField(label=_("Template id"), min_value=1, widget=forms.HiddenInput)
    decision = forms.ChoiceField(label=_("Decision"), choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))])
    msg = forms.CharField(
        label=_("Reason"),
        max_length=255,  # what the template push's msg may hold
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. the signature is not registered")}),
    )

    def __init__(self, *args: Any, templateids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templateids = templateids

    def clean_templateid(self) -> int:
        templateid = self.cleaned_data["templateid"]
        if templateid not in self.templateids:
            raise forms.ValidationError(
                _("The sandbox has no template %(templateid)s."), params={"templateid": templateid}
            )
        return templateid


@dataclass
class Page:
    """A page to render (``template`` with ``context``, answered ``status``), or a redirect to ``location``."""

    template: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    location: str = ""


class NotAPhone(LookupError):
    """The path names something that is not a mobile number: answer 404."""


def way_back(origin: str = "") -> tuple[str, str]:
    """The site's home page and the app's sign-in page (``""`` when its URLs are not included), on ``origin``.

    ``origin`` is ``""`` inside the site, and the site's ``scheme://host[:port]`` for the standalone server.
    """
    try:
        login = origin + reverse("huyi_sms:login")
    except NoReverseMatch:
        login = ""
    return origin + get_script_prefix(), login


def site_time(unix_seconds: float) -> datetime:
    """``unix_seconds`` in the site's current time zone (``TIME_ZONE`` unless a view activated another)."""
    return timezone.localtime(datetime.fromtimestamp(unix_seconds, timezone.get_fixed_timezone(0)))


def provider_time(text: str) -> datetime | str:
    """A time the provider wrote (China time, ``YYYY-mm-dd HH:MM:SS``) in the site's time zone; as given
    if it is not one."""
    try:
        return timezone.localtime(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA))
    except (TypeError, ValueError):
        return text


def index_page(
    gateway: SandboxGateway, links: Links, *, reviewed: str = "", review_error: TemplateReviewForm | None = None
) -> Page:
    """Every number that received a message, the latest first, with counts; and the templates to review."""
    phones = []
    for mobile in gateway.phones():
        received = gateway.messages_for(mobile)
        phones.append(
            {
                "mobile": mobile,
                "url": links.phone(mobile),
                "count": len(received),
                "latest": site_time(received[0].received_at) if received else None,
            }
        )
    context = {
        "links": links,
        "phones": phones,
        "templates": list(reversed(gateway.templates)),  # the latest submitted first
        "review_error": review_error,
        "reviewed": reviewed if reviewed.isdigit() else "",
        "template_url_set": bool(gateway.template_url),
        "default_template_id": DEFAULT_TEMPLATE_ID,
        "default_template": DEFAULT_TEMPLATE,
    }
    return Page(INDEX_TEMPLATE, context, status=400 if review_error else 200)


def review_template(gateway: SandboxGateway, links: Links, data: Any) -> Page:
    """Approve or reject a template as the provider's reviewers would (``data``: the form's fields);
    the result is pushed to TEMPLATE_URL."""
    form = TemplateReviewForm(data, templateids={template.templateid for template in gateway.templates})
    if not form.is_valid():
        return index_page(gateway, links, review_error=form)
    templateid = form.cleaned_data["templateid"]
    approved = form.cleaned_data["decision"] == TemplateReviewForm.APPROVE
    try:
        gateway.review_template(templateid, approved=approved, msg=form.cleaned_data["msg"])
    except KeyError:  # the gateway was rebuilt (its settings changed) since the form was checked
        form.add_error("templateid", _("The sandbox has no template %(templateid)s.") % {"templateid": templateid})
        return index_page(gateway, links, review_error=form)
    return Page(location=f"{links.index}?reviewed={templateid}")


def phone_page(
    gateway: SandboxGateway, links: Links, mobile: str, *, data: Any = None, replied: bool = False
) -> Page:
    """What ``mobile`` received, newest first, and a form to text back (``data``: its fields, when posted;
    the reply is pushed to REPLY_URL). Raises :class:`NotAPhone` when ``mobile`` is not a number."""
    if not MOBILE.fullmatch(mobile):
        raise NotAPhone(mobile)
    status = 200
    if data is not None:
        form = ReplyForm(data)
        if form.is_valid():
            gateway.send_reply(mobile, form.cleaned_data["content"])
            return Page(location=f"{links.phone(mobile)}?replied=1")
        status = 400
    else:
        form = ReplyForm()
    context = {
        "links": links,
        "mobile": mobile,
        "phone_url": links.phone(mobile),
        "json_url": links.phone_json(mobile),
        "sms_messages": [_shown_message(message) for message in gateway.messages_for(mobile)],
        "replies": [_shown_reply(reply) for reply in gateway.replies_for(mobile)],
        "latest_code": gateway.latest_code(mobile),
        "form": form,
        "replied": replied,
        "reply_url_set": bool(gateway.reply_url),
    }
    return Page(PHONE_TEMPLATE, context, status=status)


def _shown_message(message: SandboxMessage) -> dict[str, Any]:
    shown = message.as_dict()
    shown["received"] = site_time(message.received_at)
    if message.receipt:
        shown["reported"] = provider_time(message.receipt.get("report_time", ""))
    return shown


def _shown_reply(reply: SandboxReply) -> dict[str, Any]:
    return {**asdict(reply), "replied": provider_time(reply.reply_time)}
