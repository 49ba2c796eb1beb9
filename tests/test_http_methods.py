"""The push URLs and the JSON API answer POST only: anything else is a 405 that says nothing about the view."""

from __future__ import annotations

import pytest
from django.test import Client

from .push_helpers import post_form, push_url

pytestmark = pytest.mark.django_db

PUSHES = ["receipt_push", "reply_push", "template_push"]
API_URLS = ["/sms/api/otp/", "/sms/api/otp/verify/"]
OTHER_METHODS = ["OPTIONS", "GET", "HEAD", "PUT", "PATCH", "DELETE", "TRACE"]

# Words of the views' docstrings and of DRF's metadata, which OPTIONS used to answer with.
LEAKS = [b"description", b"receipts", b"\xe5\x8f\x91\xe9\x80\x81", b"renders", b"parses", b"flows", b"Send a code"]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("name", PUSHES)
@pytest.mark.parametrize("method", OTHER_METHODS)
def test_a_push_url_answers_405_to_anything_but_post(client, name, method):
    response = client.generic(method, push_url(name))
    assert response.status_code == 405, response.content[:200]
    assert response["Allow"] == "POST"
    assert response.content in (b"", f'Method "{method}" not allowed.'.encode())
    assert not any(leak in response.content for leak in LEAKS)


@pytest.mark.parametrize("name", PUSHES)
def test_without_the_token_options_is_refused_like_everything_else(client, name):
    response = client.options(push_url(name, token=None))
    assert response.status_code == 403 and response.content == b"missing or wrong token"


@pytest.mark.parametrize("url", API_URLS)
@pytest.mark.parametrize("method", OTHER_METHODS)
def test_the_api_answers_405_to_anything_but_post(client, url, method):
    response = client.generic(method, url)
    assert response.status_code == 405, response.content[:200]
    assert response["Allow"] == "POST"
    if method != "HEAD":
        assert response.json() == {"code": "method_not_allowed", "detail": f'Method "{method}" not allowed.'}
    assert not any(leak in response.content for leak in LEAKS)


def test_the_push_token_still_works_with_post(client):
    # The 405s above are not a side effect of refusing everything.
    assert post_form(client, "template_push", {"code": "2", "templateid": "5"}).content == b"success"
