"""What every admin of the app shares: read-only rows, exact (index-friendly) search, masking, own filters only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin import ShowFacets, SimpleListFilter, helpers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import url_params_from_lookup_dict
from django.db.models import Field, ForeignObjectRel, Q, QuerySet
from django.db.models.fields.related import RelatedField
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils.functional import cached_property
from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import validation
from ..exceptions import HuyiRecipientError
from ..provider import mask_mobile
from .pagination import CappedCountPaginator

if TYPE_CHECKING:
    # The mixins below are only ever mixed into a ModelAdmin: type-check them as one.
    _ModelAdmin = admin.ModelAdmin
else:
    _ModelAdmin = object

#: The permission that shows whole mobile numbers (superusers have every permission).
FULL_MOBILE_PERMISSION = "huyi_sms.view_full_mobile"

_SEARCH_PUNCTUATION = re.compile(r"[\s\-()]")

# What Django's list filters add to a field's name in their links: nothing (all values),
# exact (choices, booleans), isnull, gte and lt (date ranges), isempty (empty or not).
_FILTER_SUFFIXES = ("", "__exact", "__isnull", "__gte", "__lt", "__isempty")
# And its date hierarchy.
_DATE_HIERARCHY_SUFFIXES = ("__year", "__month", "__day")


def can_see_full_mobile(request: HttpRequest) -> bool:
    """Whether this request's user may see whole mobile numbers."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.has_perm(FULL_MOBILE_PERMISSION))


def shown_mobile(request: HttpRequest, mobile: str) -> str:
    """``mobile`` whole for users with the permission, ``138****8000`` for everyone else.

    A marketing row may hold several comma-separated numbers; each is masked.
    """
    return mobile_shower(request)(mobile)


def mobile_shower(request: HttpRequest) -> Callable[[str], str]:
    """:func:`shown_mobile` for ``request``, its user's permission asked once: for a list or an export of many rows."""
    if can_see_full_mobile(request):
        return _whole
    return _masked


def _whole(mobile: str) -> str:
    return mobile


def _masked(mobile: str) -> str:
    return ",".join(mask_mobile(number) for number in str(mobile or "").split(","))


def mobile_column(request: HttpRequest, field: str = "mobile") -> Callable[[Any], str]:
    """A list or read-only column with ``obj.<field>`` masked unless ``request``'s user may see it whole.

    Built per request because display functions are given only the row, and
    whether the number is masked depends on who is looking.
    """
    shown = mobile_shower(request)

    @admin.display(description=_("mobile"))
    def mobile(obj: Any) -> str:
        return shown(getattr(obj, field))

    return mobile


def searched_mobile(term: str) -> str | None:
    """``term`` as the number it is stored as (``+86 138-0013-8000``, ``１３８００１３８０００`` → ``13800138000``).

    Read as ``validation.normalize_any_mobile`` reads it: mainland or
    international (stored as the international product sends it, ``44 7400123456``);
    ``None`` when it is neither, e.g. an smsid or a template id.
    """
    try:
        return validation.normalize_any_mobile(term)
    except HuyiRecipientError:
        return None


def mask_raw_push(request: HttpRequest, raw: dict[str, Any]) -> dict[str, Any]:
    """A push's raw fields as shown in the admin: the number masked like everywhere else."""
    shown = dict(raw or {})
    for key in ("mobilephone", "mobile"):
        if key in shown:
            shown[key] = shown_mobile(request, str(shown[key]))
    return shown


class ReadableFormsMixin(_ModelAdmin):
    """Every page of this admin answers a POST whose form cannot be read (a charset that is no text
    encoding, a lone surrogate) with a 400 saying why, as the app's own pages do, not a 500."""

    @property
    def urls(self) -> list[URLPattern]:
        # What the admin site includes: every URL of get_urls(), a subclass's own pages too.
        from ..views import readable_form

        urls = self.get_urls()
        for url in urls:
            if isinstance(url, URLPattern):
                url.callback = readable_form(url.callback)
        return urls


class ReadOnlyAdminMixin(_ModelAdmin):
    """Rows are written by sending.py and receipts.py only; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaskedMobileMixin(_ModelAdmin):
    """Lists and pages that show ``mobile`` masked unless the user may see it whole.

    ``list_display`` and ``detail_fields`` name ``mobile`` like any field; it is
    swapped per request for a masked column. Subclasses add other per-request
    columns in :meth:`masked_columns`. Without ``detail_fields`` the detail page
    is left to the admin class.
    """

    detail_fields: tuple[Any, ...] = ()  # names, or columns (display functions)

    def masked_columns(self, request: HttpRequest) -> dict[str, Any]:
        return {"mobile": mobile_column(request)}

    def _masked(self, request: HttpRequest, names: Any) -> list[Any]:
        columns = self.masked_columns(request)
        return [columns.get(name, name) if isinstance(name, str) else name for name in names]

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        return tuple(self._masked(request, super().get_list_display(request)))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if not self.detail_fields:
            return super().get_fields(request, obj)
        return self._masked(request, self.detail_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if not self.detail_fields:
            return super().get_readonly_fields(request, obj)
        return self._masked(request, self.detail_fields)

    def object_label(self, request: HttpRequest, obj: Any) -> str:
        """``obj`` as its page's title and breadcrumb name it: its ``str()``, the number shown as the fields show it.

        Every model of the app with a number masks it in ``str()`` (``mask_mobile``), for logs and
        for pages that cannot know who is looking; here the page can. A ``str()`` that does not
        hold the masked number is left as it is.
        """
        return str(obj).replace(mask_mobile(obj.mobile), shown_mobile(request, obj.mobile), 1)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None and obj.pk is not None:
            label = self.object_label(request, obj)
            # subtitle: the heading and the window title; object_label: the breadcrumb
            # (admin/huyi_sms/change_form.html).
            context = {**context, "subtitle": label, "object_label": label}
        return super().render_change_form(request, context, add, change, form_url, obj)


class ScaleChangeList(ChangeList):
    """Django's change list, its rows linked to their pages with one ``reverse()`` a page instead of one a row.

    A row's link also carries the list's filters (so that its page leads back to the same list):
    Django's result list adds them to each link, resolving the link's address again for each
    row; here they are added once a page, to the address every row's link is made from.
    ``row_filters`` holds them; ``preserved_filters``, which only the row links read, is left empty.
    """

    _KEY = "0huyi0"  # stands for the row's key in the reversed address; quote() leaves it as it is

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_filters, self.preserved_filters = self.preserved_filters, ""

    @cached_property
    def _change_url(self) -> tuple[str, str]:
        stand_in = self.model(**{self.pk_attname: self._KEY})  # a row whose key is _KEY
        before, _key, after = self._filtered(super().url_for_result(stand_in)).partition(self._KEY)
        return before, after

    def _filtered(self, url: str) -> str:
        return add_preserved_filters({"preserved_filters": self.row_filters, "opts": self.opts}, url)

    def url_for_result(self, result: Any) -> str:
        pk = getattr(result, self.pk_attname)
        if type(pk) is not int:  # a key that quote() or the URL would escape: as Django does it
            return self._filtered(super().url_for_result(result))
        before, after = self._change_url
        return f"{before}{pk}{after}"


class ScaleAdminMixin(_ModelAdmin):
    """A list that stays fast on a table of millions of rows, and draws a page of them cheaply.

    * No ``COUNT(*)`` of the whole table: the paginator counts at most a few
      thousand rows (:class:`CappedCountPaginator`) and the "N total" link is off.
    * No facet counts, which would be one ``COUNT`` per filter value.
    * Search is exact equality on the fields in ``exact_search_fields``, which
      the indexes serve. Django's ``=field`` search is ``iexact``
      (``UPPER(x) = UPPER(y)``), which no plain index serves. A ``mobile``
      field is searched for the term read as a number the way a send stores it
      (:func:`searched_mobile`); the other fields for the term itself.
    * Each row is drawn without a template of its own: the action checkbox is Django's
      markup written out (:meth:`action_checkbox`), the link to the row's page one
      ``reverse()`` a page (:class:`ScaleChangeList`).
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    exact_search_fields: tuple[str, ...] = ()
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ScaleChangeList

    def action_checkbox(self, obj: Any) -> SafeString:
        """The row's checkbox for the actions, as Django's ``CheckboxInput`` draws it, without rendering its template.

        Django renders a form widget's template for each row (a fifth of a 100-row page).
        """
        label = escape(gettext("Select this object for an action - {}")).format(escape(self.row_label(obj)))
        return SafeString(
            f'<input type="checkbox" name="{helpers.ACTION_CHECKBOX_NAME}" value="{escape(obj.pk)}" '
            f'class="action-select" aria-label="{label}">'
        )

    def row_label(self, obj: Any) -> str:
        """How the checkbox names its row to a screen reader: its ``str()``, as Django's does."""
        return str(obj)

    def get_sortable_by(self, request: HttpRequest) -> Any:
        # A column drawn by a function (a time in a zone) sorts as the field it shows, if that one may be sorted.
        sortable = tuple(super().get_sortable_by(request))
        drawn = [
            column
            for column in self.get_list_display(request)
            if callable(column) and getattr(column, "admin_order_field", None) in sortable
        ]
        return (*sortable, *drawn)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Non-empty so that the admin draws its search box; the lookups come from get_search_results.
        return self.exact_search_fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = _SEARCH_PUNCTUATION.sub("", search_term or "")
        if not term or not self.exact_search_fields:
            return queryset, False
        mobile = searched_mobile(search_term.strip())  # as typed: "1 4165674636" is not 14165674636
        condition = Q()
        for field in self.exact_search_fields:
            if field != "mobile":
                condition |= Q(**{field: term})
            elif mobile is not None:
                condition |= Q(**{field: mobile})
        if not condition:  # only mobiles are searched, and the term is not one
            return queryset.none(), False
        return queryset.filter(condition), False


class OwnFiltersOnlyMixin(_ModelAdmin):
    """A list that the URL filters only as the list's own filters and date hierarchy do.

    Django's admin applies any other ``?field__lookup=value`` of the URL too, for
    anyone who may view the list. A view-only user could then read a masked
    number back a few digits at a time (``?mobile__startswith=1362``) and confirm
    it (``?mobile=…``), read a one-time code's salt or hash the same way
    (``?pk=7&salt__startswith=a``), or make the database scan every row
    (``?content__icontains=``). No filter of the app's lists is on a number, a
    salt or a text, so such lookups are refused, whoever asks: a whole number is
    found with the search box (``?q=``, not a lookup), which matches whole
    numbers only (:class:`ScaleAdminMixin`). A refused lookup is answered as
    Django answers any lookup a list does not allow
    (``DisallowedModelAdminLookup``: "400 Bad Request").
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return lookup in self.filter_parameters(request) or self._is_raw_id_popup_lookup(lookup, value)

    def filter_parameters(self, request: HttpRequest) -> set[str]:
        """The URL parameters that this list's filters and date hierarchy put in their links.

        A ``SimpleListFilter`` brings its ``parameter_name``; extend this to allow
        the parameters of a filter of another kind.
        """
        parameters: set[str] = set()
        for list_filter in self.get_list_filter(request):
            if isinstance(list_filter, type):  # a filter class of its own
                if issubclass(list_filter, SimpleListFilter) and list_filter.parameter_name:
                    parameters.add(list_filter.parameter_name)
                continue
            # A field's name or path, or (name, filter class); Django takes a field itself too.
            named = list_filter[0] if isinstance(list_filter, (list, tuple)) else list_filter
            path = named.name if isinstance(named, Field) else str(named)
            field = get_fields_from_path(self.model, path)[-1]
            if isinstance(field, (RelatedField, ForeignObjectRel)):  # Django's related filter: one key, or none
                parameters |= {f"{path}__{field.target_field.name}__exact", f"{path}__isnull"}
            else:
                parameters |= {path + suffix for suffix in _FILTER_SUFFIXES}
        if self.date_hierarchy:
            parameters |= {self.date_hierarchy + suffix for suffix in _DATE_HIERARCHY_SUFFIXES}
        return parameters

    def _is_raw_id_popup_lookup(self, lookup: str, value: str) -> bool:
        # A raw-id popup narrows the list by a foreign key's limit_choices_to, as Django allows:
        # the pair is fixed in the code of the model pointing here, not chosen by whoever types the URL.
        for fk_lookup in self.model._meta.related_fkey_lookups:
            fk_lookup = fk_lookup() if callable(fk_lookup) else fk_lookup
            if (lookup, value) in url_params_from_lookup_dict(fk_lookup).items():
                return True
        return False
