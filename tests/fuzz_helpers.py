"""What the fuzz tests share: hypothesis settings, odd values, and the row counts that show a half write.

Every fuzz (the push URLs and the API's bodies, the OpenAPI schema, the HTML forms,
the commands' arguments) asks the same two questions of each case: no 5xx (or
traceback), and the database holds what a whole accepted action writes, or nothing
(:func:`row_counts` before and after, :func:`writes_one_of` to judge the change).

The quick forms run in the normal suite, the long ones are marked ``slow``; both are
derandomized, so every run, and CI, tries the same cases. The long forms of the schema, form
and command fuzzes run a quarter of their cases in CI (:func:`at_length`; the push and API
body fuzz keeps its 10,000), and all of them under ``make soak`` (``HUYI_FUZZ_FULL=1``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "FUZZ",
    "at_length",
    "CHARSETS",
    "odd_text",
    "json_value",
    "bent_pairs",
    "as_form",
    "as_json",
    "as_multipart",
    "content_type",
    "counted_models",
    "row_counts",
    "changes",
    "writes_one_of",
]

def at_length(examples: int) -> int:
    """A long form's examples: all of them with ``HUYI_FUZZ_FULL`` set (``make soak``), else a quarter,
    which keeps CI within its time while the same derandomized cases lead every run."""
    return examples if os.environ.get("HUYI_FUZZ_FULL") else max(1, examples // 4)


FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# Charsets a body may name: text encodings, codecs that are no text encoding at all, and no codec.
CHARSETS = [
    None, "utf-8", "UTF8", "gbk", "latin-1", "utf-16", "utf-32", "utf-7", "idna", "punycode",
    "unicode_escape", "raw_unicode_escape", "undefined", "rot13", "base64", "hex", "uu", "zlib", "bz2", "nonsense",
]  # fmt: skip

odd_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates and NUL included
    st.sampled_from(["\ud800", "\udfff", "a\x00b", "\\ud800", "送达", "%FF", "2", "0", "-1", "", " ", "９"]),
)
# Values no push, request or form has: containers, numbers, null.
json_value = st.one_of(
    st.sampled_from([[], {}, ["2"], {"a": "2"}, [[["\ud800"]]], {"a": {"a": 1}}, 1.5, 10**30, True, None]),
    st.lists(odd_text, max_size=2),
    st.dictionaries(odd_text, odd_text, max_size=2),
)


@st.composite
def bent_pairs(draw: st.DrawFn, good: Mapping[str, object], names: list[str]) -> list[tuple[str, object]]:
    """A real form, push or request (``good``), bent: fields dropped, repeated, replaced by odd values, or
    added (``names``: the names worth adding besides odd ones)."""
    pairs: list[tuple[str, object]] = list(good.items())
    for _ in range(draw(st.integers(0, 3))):
        # Hypothesis leans to the first choice: one that leaves the fields a push or request needs.
        action = draw(st.sampled_from(["add", "replace", "repeat", "nest", "drop"]))
        index = draw(st.integers(0, max(len(pairs) - 1, 0)))
        if action == "drop" and pairs:
            pairs.pop(index)
        elif action == "repeat" and pairs:
            pairs.append((pairs[index][0], draw(odd_text)))
        elif action == "replace" and pairs:
            pairs[index] = (pairs[index][0], draw(odd_text))
        elif action == "add":
            pairs.append((draw(st.one_of(st.sampled_from(names), odd_text)), draw(st.one_of(odd_text, json_value))))
        elif action == "nest" and pairs:
            pairs[index] = (pairs[index][0], draw(json_value))
    return pairs


Pairs = Iterable[tuple[str, object]]


def as_json(pairs: Pairs) -> bytes:
    """A JSON object of ``pairs``, written by hand: a dict could not repeat a name (json.dumps escapes
    surrogates as \\ud800)."""
    return ("{" + ", ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in pairs) + "}").encode()


def as_form(pairs: Pairs) -> bytes:
    """``pairs`` form-encoded, lone surrogates and all."""
    return urlencode([(key, str(value)) for key, value in pairs], errors="surrogatepass").encode()


def as_multipart(pairs: Pairs) -> bytes:
    """``pairs`` as multipart/form-data with the boundary ``x``."""
    parts = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="' + quote(key, errors="surrogatepass").encode() + b'"\r\n\r\n'
        + str(value).encode("utf-8", "surrogatepass") + b"\r\n"
        for key, value in pairs
    )
    return parts + b"--x--\r\n"


def content_type(media_type: str, charset: str | None) -> str:
    return media_type if charset is None else f"{media_type}; charset={charset}"


def counted_models() -> list[type[Model]]:
    """Every table an action of the app may write: the app's own (each once: a proxy shares its model's
    table), the users, and DRF's tokens (the API's sign-in) where installed."""
    models: list[type[Model]] = [
        model for model in apps.get_app_config("huyi_sms").get_models() if not model._meta.proxy
    ]
    models.append(get_user_model())
    if apps.is_installed("rest_framework.authtoken"):
        models.append(apps.get_model("authtoken", "Token"))
    return models


def row_counts() -> dict[str, int]:
    """Every counted model's row count, in one query (a fuzz counts twice per case)."""
    models = counted_models()
    tables = [connection.ops.quote_name(model._meta.db_table) for model in models]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables))
        return dict(zip((model.__name__ for model in models), cursor.fetchone(), strict=True))


def changes(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """The models whose row count changed, by how much."""
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


Writes = Mapping[str, Iterable[int]]


def writes_one_of(changed: Mapping[str, int], *wholes: Writes) -> bool:
    """Whether ``changed`` is one whole action's writes: for one of ``wholes`` (model → the row counts
    it may add), every model changed is listed with its change, and every listed model's change is
    allowed (a model not changed changed by 0). ``{}`` among ``wholes``: nothing written."""
    for whole in wholes:
        names = set(changed) | set(whole)
        if all(changed.get(name, 0) in set(whole.get(name, (0,))) for name in names):
            return True
    return False
