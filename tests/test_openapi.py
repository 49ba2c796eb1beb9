"""The JSON API's OpenAPI schema (drf-spectacular) and the API page's examples are what the API answers.

Every answer the two endpoints can give is played here for real (``ANSWERS``), then checked
against the schema the app describes, strictly (no key the schema does not list), and the
examples of ``docs/api.md`` are checked against the same answers.
"""

from __future__ import annotations

import ast
import base64
import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.test import APIClient

from django_huyi_sms.adapter import HuyiAdapter
from django_huyi_sms.api import OtpApiView
from django_huyi_sms.exceptions import ChallengeFailed
from django_huyi_sms.models import OtpRecord

from .flow_helpers import MOBILE, OTHER_MOBILE, last_code, make_user

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "docs" / "api.md"
REQUEST, VERIFY = "/sms/api/otp/", "/sms/api/otp/verify/"
PUSH_PATHS = ("push/receipt/", "push/reply/", "push/template/")
SPECTACULAR = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}


def app_schema() -> dict[str, Any]:
    from django_huyi_sms.openapi import app_schema

    with override_settings(REST_FRAMEWORK=SPECTACULAR):
        GENERATOR_STATS.reset()
        schema = app_schema()
        assert not GENERATOR_STATS, "drf-spectacular warned (see the captured stderr)"
    return schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return app_schema()


def huyi(**changes: Any) -> dict[str, Any]:
    """The test settings' HUYI_SMS with ``changes``; a dict value is merged into the one there."""
    merged = copy.deepcopy(settings.HUYI_SMS)
    for key, value in changes.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


# -- the schema -----------------------------------------------------------------------------------


def test_the_schema_has_the_two_api_paths_and_no_push_url(schema):
    assert set(schema["paths"]) == {REQUEST, VERIFY}
    assert all(set(operations) == {"post"} for operations in schema["paths"].values())


A_SITES_SCHEMA = """
import django
django.setup()  # the app's ready() registers its extensions: the site imports nothing of ours
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
with override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}):
    schema = SchemaGenerator().get_schema(request=None, public=True)
print(sorted(schema["paths"]))
print(sorted(schema["paths"]["/sms/api/otp/"]["post"]["responses"]))
"""


def test_a_sites_whole_schema_has_the_api_described_and_no_push_url():
    assert reverse("huyi_sms:receipt_push") == "/sms/push/receipt/"  # they are in the site's URLs
    paths, statuses = run_python(A_SITES_SCHEMA).splitlines()
    assert ast.literal_eval(paths) == [REQUEST, VERIFY]
    assert ast.literal_eval(statuses) == ["200", "400", "401", "403", "415", "429", "503"]


def run_python(code: str) -> str:
    """``code``'s output, run by a fresh interpreter on the test settings."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)


def component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def request_body(schema: dict[str, Any], path: str) -> dict[str, Any]:
    content = schema["paths"][path]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
    return component(schema, content["application/json"]["schema"]["$ref"])


def enum_of(schema: dict[str, Any], property_schema: dict[str, Any]) -> list[str]:
    ref = property_schema["allOf"][0]["$ref"] if "allOf" in property_schema else property_schema["$ref"]
    return component(schema, ref)["enum"]


def test_the_request_bodies_are_the_serializers(schema):
    ask = request_body(schema, REQUEST)
    assert set(ask["properties"]) == {"mobile", "purpose", "channel"} and ask["required"] == ["mobile"]
    assert ask["properties"]["mobile"]["type"] == "string"
    assert enum_of(schema, ask["properties"]["purpose"]) == ["login", "password_reset", "verify_phone"]
    assert enum_of(schema, ask["properties"]["channel"]) == ["sms", "voice"]
    assert ask["properties"]["purpose"]["default"] == "login" and ask["properties"]["channel"]["default"] == "sms"

    check = request_body(schema, VERIFY)
    assert set(check["properties"]) == {"mobile", "purpose", "code", "new_password"}
    assert sorted(check["required"]) == ["code", "mobile"]
    assert check["properties"]["code"]["type"] == "string"
    assert check["properties"]["new_password"]["writeOnly"] is True


def test_every_status_each_endpoint_answers_is_described(schema):
    responses = {path: schema["paths"][path]["post"]["responses"] for path in (REQUEST, VERIFY)}
    assert set(responses[REQUEST]) == {"200", "400", "401", "403", "415", "429", "503"}
    assert set(responses[VERIFY]) == {"200", "400", "401", "403", "415", "429"}
    for answers in responses.values():
        assert answers["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
        too_many = component(schema, answers["429"]["content"]["application/json"]["schema"]["$ref"])
        assert sorted(too_many["required"]) == ["code", "detail", "retry_after"]
        assert too_many["properties"]["retry_after"]["type"] == "integer"
    sent = component(schema, responses[REQUEST]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert sent["properties"]["voice_after"] == {**sent["properties"]["voice_after"], "type": "integer", "nullable": True}
    verified = component(schema, responses[VERIFY]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert [component(schema, one["$ref"])["required"] for one in verified["oneOf"]] == [
        ["detail", "session", "user"],
        ["detail"],
        ["detail", "mobile"],
    ]


# -- every answer, for real -----------------------------------------------------------------------


class RefusingAdapter(HuyiAdapter):
    def pre_send_check(self, request, mobile, purpose):
        raise ChallengeFailed()


@dataclass
class Answer:
    """One answer an endpoint gives: how to get it, and what it is (status and machine code)."""

    endpoint: str
    status: int
    code: str | None
    body: dict[str, Any] | bytes
    before: Callable[[APIClient], None] = lambda api: None
    settings: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"
    # False: as a site without rest_framework.authtoken, whose sign-ins need Django's CSRF token.
    token_auth: bool = True
    # True: the client sends no CSRF token and Django's check is made (a browser's forged or broken request).
    csrf_checks: bool = False
    # The site's DEFAULT_AUTHENTICATION_CLASSES, when not DRF's own (session first).
    authentication: list[type] | None = None

    def play(self, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any] | bytes | None = None) -> Any:
        from django_huyi_sms import flows

        api = APIClient(enforce_csrf_checks=self.csrf_checks or not self.token_auth)
        if not self.token_auth:
            monkeypatch.setattr(flows, "token_auth_installed", lambda: False)
        if self.authentication is not None:
            # Read from the settings once, when DRF's APIView class is made: set where the view reads it.
            monkeypatch.setattr(OtpApiView, "authentication_classes", self.authentication)
        body = self.body if body is None else body
        with override_settings(HUYI_SMS=huyi(**self.settings)):
            self.before(api)
            if isinstance(body, dict):
                # "" (or the page's 123456) stands for the code the last SMS carried.
                body = {
                    key: last_code(body["mobile"]) if key == "code" and value in ("", "123456") else value
                    for key, value in body.items()
                }
                body = json.dumps(body).encode()
            return api.post(self.endpoint, body, content_type=self.content_type)


def ask(purpose: str = "login", mobile: str = MOBILE, **extra: Any) -> Callable[[APIClient], None]:
    def before(api: APIClient) -> None:
        response = api.post(REQUEST, {"mobile": mobile, "purpose": purpose, **extra}, format="json")
        assert response.status_code == 200, response.content

    return before


def with_user(then: Callable[[APIClient], None] = lambda api: None, *, signed_in: bool = False):
    def before(api: APIClient) -> None:
        user = make_user()
        if signed_in:
            api.force_login(user)
        then(api)

    return before


def wrong_password(api: APIClient) -> None:
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"nobody:wrong").decode())


BASIC_FIRST = [BasicAuthentication, SessionAuthentication]


def expire_codes(api: APIClient) -> None:
    ask()(api)
    OtpRecord.objects.update(expires_at=timezone.now())


LOGIN = {"mobile": MOBILE, "code": "123456", "purpose": "login"}
UNREACHABLE = {"BACKEND": "django_huyi_sms.backends.ihuyi.IhuyiBackend", "API_URL": "http://127.0.0.1:9/sms.php",
               "CONNECT_RETRIES": 0}

ANSWERS: dict[str, Answer] = {
    # POST api/otp/
    "code_sent": Answer(REQUEST, 200, None, {"mobile": MOBILE}, with_user()),
    "invalid": Answer(REQUEST, 400, "invalid", {"mobile": MOBILE, "purpose": "sign_up"}),
    "parse_error": Answer(REQUEST, 400, "parse_error", b'{"mobile": '),
    "unsupported_media_type": Answer(REQUEST, 415, "unsupported_media_type", b"13800138000", content_type="text/plain"),
    "invalid_mobile": Answer(REQUEST, 400, "invalid_mobile", {"mobile": "12345"}),
    "challenge_failed": Answer(REQUEST, 400, "challenge_failed", {"mobile": MOBILE},
                               settings={"ADAPTER": f"{__name__}.RefusingAdapter"}),
    "voice_not_offered": Answer(REQUEST, 400, "voice_not_offered", {"mobile": MOBILE, "channel": "voice"}),
    "not_authenticated": Answer(REQUEST, 401, "not_authenticated", {"mobile": MOBILE, "purpose": "verify_phone"}),
    "resend_too_soon": Answer(REQUEST, 429, "resend_too_soon", {"mobile": MOBILE}, with_user(ask())),
    "voice_too_soon": Answer(REQUEST, 429, "voice_too_soon", {"mobile": MOBILE, "channel": "voice"}, with_user(ask()),
                             settings={"OTP": {"VOICE_FALLBACK_AFTER": 60}}),
    "daily_limit": Answer(REQUEST, 429, "daily_limit", {"mobile": MOBILE}, with_user(ask()),
                          settings={"OTP": {"DAILY_LIMIT": 1, "RESEND_INTERVAL": 0}}),
    "site_limit": Answer(REQUEST, 429, "site_limit", {"mobile": OTHER_MOBILE}, ask(),
                         settings={"OTP": {"SITE_HOURLY_LIMIT": 1}}),
    "rate_limited": Answer(REQUEST, 429, "rate_limited", {"mobile": OTHER_MOBILE}, ask(),
                           settings={"RATELIMITS": {"REQUEST_CODE": "1/h"}}),
    "request_csrf_failed": Answer(REQUEST, 403, "csrf_failed", {"mobile": MOBILE}, with_user(signed_in=True),
                                  csrf_checks=True),
    "request_authentication_failed": Answer(REQUEST, 403, "authentication_failed", {"mobile": MOBILE}, wrong_password),
    "request_authentication_failed_401": Answer(REQUEST, 401, "authentication_failed", {"mobile": MOBILE},
                                                wrong_password, authentication=BASIC_FIRST),
    "sms_unavailable": Answer(REQUEST, 503, "sms_unavailable", {"mobile": MOBILE, "purpose": "verify_phone"},
                              with_user(signed_in=True), settings=UNREACHABLE),
    # POST api/otp/verify/
    "signed_in": Answer(VERIFY, 200, None, LOGIN, with_user(ask())),
    "password_set": Answer(VERIFY, 200, None,
                           {"mobile": MOBILE, "code": "", "purpose": "password_reset", "new_password": "Brand-new-passw0rd"},
                           with_user(ask("password_reset"))),
    "phone_verified": Answer(VERIFY, 200, None, {"mobile": MOBILE, "code": "", "purpose": "verify_phone"},
                             with_user(ask("verify_phone"), signed_in=True)),
    "verify_invalid": Answer(VERIFY, 400, "invalid", {"mobile": MOBILE, "code": "", "purpose": "password_reset"},
                             with_user(ask("password_reset"))),
    "verify_parse_error": Answer(VERIFY, 400, "parse_error", b"{"),
    "invalid_code": Answer(VERIFY, 400, "invalid_code", {"mobile": MOBILE, "code": "12"}),
    "code_expired": Answer(VERIFY, 400, "code_expired", LOGIN, with_user(expire_codes)),
    "too_many_attempts": Answer(VERIFY, 400, "too_many_attempts", {"mobile": MOBILE, "code": "12"},
                                with_user(ask()), settings={"OTP": {"MAX_ATTEMPTS": 1}}),
    "verify_not_authenticated": Answer(VERIFY, 401, "not_authenticated",
                                       {"mobile": MOBILE, "code": "12", "purpose": "verify_phone"}),
    "csrf_failed": Answer(VERIFY, 403, "csrf_failed", LOGIN, with_user(ask()), token_auth=False),
    "verify_authentication_failed": Answer(VERIFY, 403, "authentication_failed", {"mobile": MOBILE, "code": "12"},
                                           wrong_password),
    "verify_authentication_failed_401": Answer(VERIFY, 401, "authentication_failed",
                                               {"mobile": MOBILE, "code": "12"}, wrong_password, authentication=BASIC_FIRST),
    "verify_unsupported_media_type": Answer(VERIFY, 415, "unsupported_media_type", b"x", content_type="text/plain"),
    "verify_rate_limited": Answer(VERIFY, 429, "rate_limited", {"mobile": MOBILE, "code": "12"},
                                  lambda api: api.post(VERIFY, {"mobile": MOBILE, "code": "12"}, format="json"),
                                  settings={"RATELIMITS": {"VERIFY_CODE": "1/h"}}),
}


def strict(schema: dict[str, Any], node: Any, *, closed: bool = True) -> Any:
    """An OpenAPI 3.0 schema as a JSON Schema: references inlined, ``nullable`` as a type, no key unlisted
    (``closed=False``: only where the schema itself says so, as a client's validator reads it)."""
    if isinstance(node, list):
        return [strict(schema, item, closed=closed) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return strict(schema, component(schema, node["$ref"]), closed=closed)
    node = {
        key: strict(schema, value, closed=closed) for key, value in node.items() if key not in ("description", "writeOnly")
    }
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    elif closed and node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


def response_schema(schema: dict[str, Any], endpoint: str, status: int) -> dict[str, Any]:
    described = schema["paths"][endpoint]["post"]["responses"][str(status)]
    return strict(schema, described["content"]["application/json"]["schema"])


@pytest.fixture
def played(monkeypatch):
    def play(name: str, body: Any = None) -> Any:
        return ANSWERS[name].play(monkeypatch, body)

    return play


@pytest.mark.django_db
@pytest.mark.parametrize("name", ANSWERS)
def test_every_answer_is_what_the_schema_says(schema, played, name):
    answer = ANSWERS[name]
    response = played(name)
    body = response.json()
    assert (response.status_code, body.get("code")) == (answer.status, answer.code), body
    jsonschema.validate(body, response_schema(schema, answer.endpoint, answer.status))
    if answer.status == 429:
        assert body["retry_after"] == int(response["Retry-After"])


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["signed_in", "password_set", "phone_verified"])
def test_each_verify_answer_is_exactly_one_of_the_published_bodies(schema, played, name):
    # The schema as published, not made strict here: a sign-in's body must not pass for a reset's too.
    described = schema["paths"][VERIFY]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(played(name).json(), strict(schema, described, closed=False))


def test_every_code_the_schema_lists_is_one_the_api_answers(schema):
    listed = set()
    for path, operations in schema["paths"].items():
        for status, described in operations["post"]["responses"].items():
            if status == "200":
                continue
            body = strict(schema, described["content"]["application/json"]["schema"])
            for one in body.get("oneOf", [body]):
                code = one["properties"]["code"]
                listed |= {(path, int(status), value) for value in code.get("enum") or code["allOf"][0]["enum"]}
    answered = {(answer.endpoint, answer.status, answer.code) for answer in ANSWERS.values() if answer.code}
    assert listed == answered


# -- the API page's examples ----------------------------------------------------------------------

EXAMPLE = re.compile(r"<!-- (request|response): (\w+) -->\n```json\n(.*?)\n```", re.S)


def page_examples() -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = {}
    for kind, name, text in EXAMPLE.findall(API_PAGE.read_text(encoding="utf-8")):
        examples.setdefault(name, {})[kind] = json.loads(text)
    return examples


def shape(value: Any) -> Any:
    """What a body is made of: the keys, and each value's JSON type (a machine ``code`` as itself)."""
    if isinstance(value, dict):
        return {key: item if key == "code" else shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_the_api_page_has_examples_of_both_endpoints_and_their_errors():
    examples = page_examples()
    assert {"code_sent", "signed_in", "password_set", "phone_verified", "invalid", "resend_too_soon"} <= set(examples)
    assert set(examples) <= set(ANSWERS), "an example names an answer this test cannot play"
    assert API_PAGE.read_text(encoding="utf-8").count("<!-- ") == sum(len(kinds) for kinds in examples.values())


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(page_examples()))
def test_each_example_on_the_api_page_is_what_the_api_answers(played, name):
    example = page_examples()[name]
    response = played(name, example.get("request"))
    assert response.status_code == ANSWERS[name].status, response.content
    assert shape(example["response"]) == shape(response.json())


# -- without drf-spectacular ----------------------------------------------------------------------

WITHOUT_SPECTACULAR = """
import sys

sys.modules["drf_spectacular"] = None  # as CPython's own tests block a module: "import" raises, find_spec finds none
import django
django.setup()
from django.test import Client
from django.urls import reverse
import django_huyi_sms.api, django_huyi_sms.urls
assert "django_huyi_sms.openapi" not in sys.modules
assert not any(name.startswith("drf_spectacular.") for name in sys.modules)
assert Client().post(reverse("huyi_sms:otp_request"), {"mobile": "12345"}).status_code == 400
print("ok")
"""


def test_without_drf_spectacular_nothing_is_loaded_and_nothing_fails():
    assert run_python(WITHOUT_SPECTACULAR).strip() == "ok"
