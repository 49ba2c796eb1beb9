"""The send path's two statements, compiled once: INSERT a queued row, UPDATE it conditionally.
(And for the one-time codes of ``otp.py``: the record's INSERT, and SELECTs of whole rows.)

Measured, building these through the ORM cost more than running them (about
0.5 ms of query building per send on SQLite, more than the loopback round trip
to the provider). The SQL is made once per database connection and set of
columns from the model's own metadata (table and column names quoted by the
backend, values prepared by each field's ``get_db_prep_save``), so it stays
right if the model changes. Only ``sending.py`` calls this; like
``QuerySet.update()``, it sends no ``pre_save``/``post_save`` signals (the app's
own signals, ``sms_sent`` and the rest, are the ones to listen to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

from .models import SmsLog

__all__ = ["columns", "insert_row", "insert_rows", "select_rows", "update_row"]

M = TypeVar("M", bound=Model)

_META = SmsLog._meta
_cache: dict[tuple[Any, ...], Any] = {}


def _fields_of(model: type[Model]) -> dict[str, Any]:
    # By name and by attname (``user_id``): callers pass foreign keys as their key.
    fields = model._meta.concrete_fields
    return {field.name: field for field in fields} | {field.attname: field for field in fields}


_FIELDS = _fields_of(SmsLog)


def _connection() -> Any:
    return connections[router.db_for_write(SmsLog)]


# Values every driver takes as they are; the rest (datetimes, choices) go through their field.
_PLAIN = (str, int, bool, type(None))


def _prepared(connection: Any, values: Mapping[str, Any], fields: Mapping[str, Any] = _FIELDS) -> list[Any]:
    return [
        value if type(value) in _PLAIN else fields[name].get_db_prep_save(value, connection=connection)
        for name, value in values.items()
    ]


def insert_row(values: Mapping[str, Any], *, model: type[M] = SmsLog) -> M:  # type: ignore[assignment]
    """INSERT a ``model`` row (an ``SmsLog`` unless told) with ``values``; return the instance.

    ``values`` names fields (foreign keys by attname, ``user_id``) and gives
    every NOT NULL column, since the database knows none of the model's defaults.
    """
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    fields = _FIELDS if model is SmsLog else _cache.get(("fields", meta.label)) or _fields_of(model)
    _cache[("fields", meta.label)] = fields
    names = tuple(values)
    returning = bool(connection.features.can_return_columns_from_insert)
    key = ("insert", meta.label, connection.alias, connection.vendor, names)
    sql = _cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(fields[name].column) for name in names)
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
        if returning:
            sql += f" RETURNING {quote(str(meta.pk.column))}"
        _cache[key] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, _prepared(connection, values, fields))
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    # from_db() with a value for every field builds the instance positionally: the fast way.
    attnames = [field.attname for field in meta.concrete_fields]
    return model.from_db(
        connection.alias, attnames, [pk if name == meta.pk.attname else values.get(name) for name in attnames]
    )


def columns(model: type[Model], connection: Any, alias: str) -> str:
    """Every concrete column of ``model``, in field order, as ``alias.column, …``: what :func:`select_rows` reads."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def select_rows(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """Run ``sql``, which SELECTs :func:`columns` of ``model``; return the instances, each value converted
    as the ORM converts it (an aware datetime from SQLite's text, say). For a hot query whose
    SQL is made once: building it through the ORM costs more than running it."""
    connection = connections[router.db_for_write(model)]
    key = ("converters", model._meta.label, connection.alias, connection.vendor)
    converters = _cache.get(key)
    if converters is None:
        converters = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            converters.append((column, functions))
        _cache[key] = converters
    attnames = [field.attname for field in model._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    built = []
    for row in rows:
        values = list(row)
        for index, (column, functions) in enumerate(converters):
            for function in functions:
                values[index] = function(values[index], column, connection)
        built.append(model.from_db(connection.alias, attnames, values))
    return built


def insert_rows(shared: Mapping[str, Any], varying: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """INSERT one row per item of ``rows``: the fields ``shared`` has, the same in every row, and the
    fields named in ``varying`` with each item's values (plain values: ``str``, ``int``, ``None``).

    ``shared`` is prepared once, and no model instance is built: a bulk send's thousands of rows
    cost a few statements. On PostgreSQL one statement takes every row, its varying values as one
    array per column (``unnest``); elsewhere the driver runs one statement per row (``executemany``,
    a loop in C for sqlite3). Measured on PostgreSQL, 10,000 rows: ``bulk_create`` 2.7 s,
    ``executemany`` 1.6 s, ``unnest`` 0.1 s. The rows' keys are not returned.
    """
    connection = _connection()
    names = (*shared, *varying)
    rows = list(rows)
    if not rows:
        return
    prepared = list(_prepared(connection, shared))
    quote = connection.ops.quote_name
    key = ("insert_many", connection.alias, connection.vendor, names)
    sql = _cache.get(key)
    if sql is None:
        columns = ", ".join(quote(_FIELDS[name].column) for name in names)
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{_FIELDS[name].db_type(connection)}[]" for name in varying)
            shared_values = ", ".join(f"%s::{_FIELDS[name].db_type(connection)}" for name in shared)
            sql = f"INSERT INTO {quote(_META.db_table)} ({columns}) SELECT {shared_values}, * FROM unnest({arrays})"
        else:
            sql = f"INSERT INTO {quote(_META.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"
        _cache[key] = sql
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [*prepared, *(list(column) for column in zip(*rows, strict=True))])
        else:
            cursor.executemany(sql, [(*prepared, *row) for row in rows])


def update_row(pk: int, changes: Mapping[str, Any], *, statuses: Iterable[str], receipt_waiting: bool | None) -> int:
    """``UPDATE … SET changes WHERE pk AND status IN statuses [AND receipt_waiting = …]``; the rows changed."""
    connection = _connection()
    statuses = tuple(statuses)
    names = tuple(changes)
    key = ("update", connection.alias, connection.vendor, names, len(statuses), receipt_waiting is None)
    sql = _cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(_FIELDS[name].column)} = %s" for name in names)
        sql = (
            f"UPDATE {quote(_META.db_table)} SET {assignments} WHERE {quote(_META.pk.column)} = %s "
            f"AND {quote(_FIELDS['status'].column)} IN ({', '.join(['%s'] * len(statuses))})"
        )
        if receipt_waiting is not None:
            sql += f" AND {quote(_FIELDS['receipt_waiting'].column)} = %s"
        _cache[key] = sql
    params = [*_prepared(connection, changes), pk, *statuses]
    if receipt_waiting is not None:
        params.append(receipt_waiting)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_submitted(accepted: list[tuple[int, str, str]], *, code: int, now: Any, statuses: Iterable[str]) -> int:
    """Record several acceptances in one statement: ``accepted`` is ``(pk, smsid, msg)`` per row.

    The same conditions as :func:`update_row` with ``receipt_waiting=False``:
    only rows still in ``statuses`` with no receipt waiting. Returns the rows changed.
    """
    connection = _connection()
    statuses = tuple(statuses)
    key = ("submitted", connection.alias, connection.vendor, len(accepted), len(statuses))
    sql = _cache.get(key)
    quote = connection.ops.quote_name
    pk_column = quote(_META.pk.column)
    if sql is None:
        case = f"CASE {pk_column} " + " ".join(["WHEN %s THEN %s"] * len(accepted)) + " END"
        sql = (
            f"UPDATE {quote(_META.db_table)} SET {quote(_FIELDS['status'].column)} = %s, "
            f"{quote(_FIELDS['smsid'].column)} = {case}, {quote(_FIELDS['provider_msg'].column)} = {case}, "
            f"{quote(_FIELDS['provider_code'].column)} = %s, {quote(_FIELDS['submitted_at'].column)} = %s, "
            f"{quote(_FIELDS['updated_at'].column)} = %s "
            f"WHERE {pk_column} IN ({', '.join(['%s'] * len(accepted))}) "
            f"AND {quote(_FIELDS['status'].column)} IN ({', '.join(['%s'] * len(statuses))}) "
            f"AND {quote(_FIELDS['receipt_waiting'].column)} = %s"
        )
        _cache[key] = sql
    when = _FIELDS["submitted_at"].get_db_prep_save(now, connection=connection)
    params: list[Any] = [_FIELDS["status"].get_db_prep_save(SmsLog.Status.SUBMITTED, connection=connection)]
    params += [value for pk, smsid, _msg in accepted for value in (pk, smsid)]
    params += [value for pk, _smsid, msg in accepted for value in (pk, msg)]
    params += [code, when, when, *(pk for pk, _smsid, _msg in accepted), *statuses, False]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
