"""What every admin of the app shares: read-only rows, exact (index-friendly) search, masking."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.admin import ShowFacets
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from ..client import mask_mobile
from .pagination import CappedCountPaginator

#: The permission that shows whole mobile numbers (superusers have every permission).
FULL_MOBILE_PERMISSION = "huyi_sms.view_full_mobile"

_SEARCH_PUNCTUATION = re.compile(r"[\s\-()]")
# A one-time code in a message: a run of 4 to 8 digits standing alone.
_CODE_DIGITS = re.compile(r"(?<!\d)\d{4,8}(?!\d)")


def can_see_full_mobile(request: HttpRequest) -> bool:
    """Whether this request's user may see whole mobile numbers."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.has_perm(FULL_MOBILE_PERMISSION))


def shown_mobile(request: HttpRequest, mobile: str) -> str:
    """``mobile`` whole for users with the permission, ``138****8000`` for everyone else.

    A marketing row may hold several comma-separated numbers; each is masked.
    """
    if can_see_full_mobile(request):
        return mobile
    return ",".join(mask_mobile(number) for number in str(mobile or "").split(","))


def redact_codes(text: str) -> str:
    """``您的验证码是：123456。`` → ``您的验证码是：******。``: one-time codes never reach a page."""
    return _CODE_DIGITS.sub(lambda match: "*" * len(match.group()), text)


def mask_raw_push(request: HttpRequest, raw: dict[str, Any]) -> dict[str, Any]:
    """A push's raw fields as shown in the admin: the number masked like everywhere else."""
    shown = dict(raw or {})
    for key in ("mobilephone", "mobile"):
        if key in shown:
            shown[key] = shown_mobile(request, str(shown[key]))
    return shown


class ReadOnlyAdminMixin:
    """Rows are written by sending.py and receipts.py only; the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScaleAdminMixin:
    """A list that stays fast on a table of millions of rows.

    * No ``COUNT(*)`` of the whole table: the paginator counts at most a few
      thousand rows (:class:`CappedCountPaginator`) and the "N total" link is off.
    * No facet counts, which would be one ``COUNT`` per filter value.
    * Search is exact equality on the fields in ``exact_search_fields``, which
      the indexes serve. Django's ``=field`` search is ``iexact``
      (``UPPER(x) = UPPER(y)``), which no plain index serves.
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    exact_search_fields: tuple[str, ...] = ()
    list_per_page = 50

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Non-empty so that the admin draws its search box; the lookups come from get_search_results.
        return self.exact_search_fields

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = _SEARCH_PUNCTUATION.sub("", search_term or "")
        if not term or not self.exact_search_fields:
            return queryset, False
        terms = {term}
        # The ways a mainland number is written with its country code (validation.normalize_mobile's).
        if term.startswith("+86"):
            terms.add(term[3:])
        elif term.startswith("0086"):
            terms.add(term[4:])
        elif len(term) == 13 and term.startswith("86"):
            terms.add(term[2:])
        condition = Q()
        for field in self.exact_search_fields:
            condition |= Q(**{f"{field}__in": sorted(terms)})
        return queryset.filter(condition), False
