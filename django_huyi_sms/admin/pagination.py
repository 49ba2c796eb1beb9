"""A paginator that never counts a whole big table.

Django's admin asks its paginator for ``count`` on every list page, which is a
``SELECT COUNT(*)`` over every row the filters let through: a full scan that
grows with the table (a million sends, a second or more on PostgreSQL).

:class:`CappedCountPaginator` counts at most ``CAP + 1`` rows
(``SELECT COUNT(*) FROM (… LIMIT CAP + 1)``), which costs the same at a
thousand rows as at a billion. Under the cap the count is exact. Over it, on
PostgreSQL the number comes from the planner's estimate (``EXPLAIN``, no rows
read), so the later pages stay reachable; elsewhere it stays at the cap and
the list says "more than".
"""

from __future__ import annotations

import json
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet

#: Rows counted exactly before the paginator settles for an estimate.
CAP = 10_000


class CappedCountPaginator(Paginator):
    """A paginator whose ``count`` reads at most ``CAP + 1`` rows (see the module docstring).

    ``count_is_exact`` tells whether ``count`` is the real number or a floor/estimate.
    """

    cap = CAP

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            self.count_is_exact = True
            return len(queryset)
        # Ordering is useless to a count and would make the database sort what it only counts.
        counted = queryset.order_by().values("pk")[: self.cap + 1].count()
        if counted <= self.cap:
            self.count_is_exact = True
            return counted
        self.count_is_exact = False
        estimate = _planner_estimate(queryset)
        return max(counted, estimate or 0)

    count_is_exact: bool = True

    def validate_number(self, number: int | float | str) -> int:
        self.count  # noqa: B018 (sets count_is_exact)
        if self.count_is_exact:
            return super().validate_number(number)
        # Past the counted rows the count is a floor or an estimate: a page beyond it may still hold rows.
        try:
            number = int(number)
        except (TypeError, ValueError):
            return super().validate_number(number)
        return number if number >= 1 else super().validate_number(number)

    def page(self, number: int | float | str) -> Page:
        number = self.validate_number(number)
        if self.count_is_exact:
            return super().page(number)
        # Slice by the page size alone: a count that is only a floor must not cut the page short.
        bottom = (number - 1) * self.per_page
        return Page(self.object_list[bottom : bottom + self.per_page], number, self)


def _planner_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of how many rows ``queryset`` returns; ``None`` elsewhere or on error."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    try:
        # A savepoint, so that a failed EXPLAIN cannot break the request's transaction.
        with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
    except DatabaseError:
        return None
    if isinstance(plan, str):
        plan = json.loads(plan)
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
