"""The demo's home page after "send": back at the form with the text kept and the result beside it,
statuses told apart by colour and word, and a JSON view the page follows them with. And where
``make demo PORT=…`` runs it."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_huyi_sms import send_sms
from django_huyi_sms.models import SmsLog

from .test_example_project import REPO, SEND_MOBILE, example_settings, example_site  # noqa: F401 - a fixture

TEXT = "您的验证码是：4321。请不要把验证码泄露给其他人。"
STATUS_URL = "/sends/status/"


@pytest.fixture
def sandbox_site(example_site: Any) -> Any:  # noqa: F811 - the fixture imported above
    example_site.USE_SANDBOX = True
    return example_site


# -- after "send" ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_after_a_send_the_page_comes_back_at_the_form_with_the_text_kept_and_the_result_beside_it(
    sandbox_site: Any, client: Any
) -> None:
    response = client.post("/", {"mobile": SEND_MOBILE, "content": TEXT})
    assert response.status_code == 302
    assert response["Location"] == "/#send"

    html = client.get("/").content.decode()
    section = html[html.index('<section id="send"') : html.index("</section>")]
    # The form and the result are in the one section the browser scrolls to.
    assert 'id="last-send"' in section
    assert f'value="{SEND_MOBILE}"' in section
    assert re.search(rf">\s*{TEXT}</textarea>", section)
    log = SmsLog.objects.get()
    assert re.search(rf'<span class="status status-submitted" data-send-id="{log.pk}" data-status="submitted" '
                     r'data-final="false">Submitted</span>', section)


@pytest.mark.django_db
def test_a_refused_send_comes_back_at_the_form_with_the_error_next_to_the_field(sandbox_site: Any, client: Any) -> None:
    response = client.post("/", {"mobile": "1234", "content": TEXT})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/#send"' in html  # so the browser shows the form, not the top of the page
    form = response.context["form"]
    assert form.errors["mobile"] and form["content"].value() == TEXT
    section = html[html.index('<section id="send"') : html.index("</section>")]
    assert section.index('name="mobile"') < section.index(form.errors["mobile"][0]) < section.index('name="content"')


@pytest.mark.django_db
def test_each_status_has_its_word_and_its_own_colour(sandbox_site: Any, client: Any) -> None:
    for status in SmsLog.Status.values:
        SmsLog.objects.create(mobile=SEND_MOBILE, content=TEXT, status=status, carries_code=True)
    html = client.get("/").content.decode()
    for status, label in SmsLog.Status.choices:
        assert re.search(rf'class="status status-{status}"[^>]*>{label}</span>', html), status

    def colour(status: str) -> str:
        """The text colour of the stylesheet's one rule for ``.status-STATUS``."""
        rules = re.findall(r"([^{}]+)\{([^}]*)\}", html)
        [body] = [body for selectors, body in rules if f".status-{status}" in map(str.strip, selectors.split(","))]
        return re.search(r"(?:^|;)\s*color:\s*([^;]+)", body).group(1).strip()

    on_its_way, delivered, not_delivered, not_known = (
        colour("submitted"), colour("delivered"), colour("undelivered"), colour("unknown")
    )
    assert colour("queued") == on_its_way and colour("failed") == not_delivered
    assert len({on_its_way, delivered, not_delivered, not_known}) == 4


# -- the status view -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_status_view_gives_the_statuses_with_masked_numbers_only(sandbox_site: Any, client: Any) -> None:
    submitted = send_sms(SEND_MOBILE, TEXT)
    delivered = SmsLog.objects.create(mobile="13700137000", content=TEXT, status="delivered", smsid="42")
    response = client.get(STATUS_URL, {"id": [delivered.pk, submitted.pk, 999999]})
    assert response.status_code == 200
    assert response.json() == {
        "sends": [
            {"id": submitted.pk, "status": "submitted", "label": "Submitted", "final": False,
             "mobile": "139****9000", "smsid": submitted.smsid},
            {"id": delivered.pk, "status": "delivered", "label": "Delivered", "final": True,
             "mobile": "137****7000", "smsid": "42"},
        ]
    }
    body = response.content.decode()
    assert SEND_MOBILE not in body and "4321" not in body
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize(("staff", "status"), [(False, 403), (True, 200)], ids=["anonymous", "staff"])
def test_with_a_real_account_the_status_view_is_for_staff_only(
    example_site: Any, client: Any, staff: bool, status: int  # noqa: F811 - the fixture imported above
) -> None:
    log = send_sms(SEND_MOBILE, TEXT)
    if staff:
        client.force_login(get_user_model().objects.create_user("staff", password="x", is_staff=True))
    response = client.get(STATUS_URL, {"id": log.pk})
    assert response.status_code == status
    if not staff:
        assert "sends" not in response.json() and log.smsid not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["", "?id=", "?id=abc", "?id=-1", "?id=1.5", "?id=%EF%BC%91", "?" + "&".join(f"id={n}" for n in range(21))],
    ids=["none", "empty", "word", "negative", "fraction", "fullwidth-digit", "too-many"],
)
def test_odd_ids_are_a_clear_400(sandbox_site: Any, client: Any, query: str) -> None:
    response = client.get(STATUS_URL + query)
    assert response.status_code == 400
    assert "id=" in response.json()["detail"]


@pytest.mark.django_db
def test_the_status_view_only_reads(sandbox_site: Any, client: Any) -> None:
    assert client.post(STATUS_URL, {"id": 1}).status_code == 405


# -- the sign-in lands somewhere, and where make demo runs -----------------------------------------


@pytest.mark.django_db
def test_a_code_sign_in_lands_on_the_home_page(example_site: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    settings_module = example_settings(monkeypatch)
    assert reverse(settings_module.LOGIN_REDIRECT_URL) == "/"
    assert reverse(settings_module.LOGIN_URL) == reverse("huyi_sms:login")


def test_the_demo_port_sets_where_receipts_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    module = example_settings(monkeypatch, DEMO_PORT="8123")
    assert module.DEMO_SITE_URL == "http://127.0.0.1:8123"
    # The sandbox pushes receipts to the app's URLs on SANDBOX_SITE.
    assert module.HUYI_SMS["SANDBOX_SITE"] == "http://127.0.0.1:8123"
    # An explicit address still wins (a site behind a proxy, say).
    assert example_settings(monkeypatch, DEMO_PORT="8123", DEMO_SITE_URL="http://demo.test/").DEMO_SITE_URL == (
        "http://demo.test"
    )
    assert example_settings(monkeypatch).DEMO_SITE_URL == "http://127.0.0.1:8000"


@pytest.mark.parametrize("port", ["eighty", "0", "65536", "80 80", "８０"])
def test_a_demo_port_that_is_not_one_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="DEMO_PORT must be a port number"):
        example_settings(monkeypatch, DEMO_PORT=port)


def test_make_demo_runs_on_the_port_it_is_given_and_tells_the_settings() -> None:
    done = subprocess.run(
        ["make", "-n", "demo", "PORT=8123"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    commands = [line for line in done.stdout.splitlines() if "manage.py" in line]
    assert commands and all("DEMO_PORT=8123" in line for line in commands)
    assert commands[-1].endswith("manage.py runserver 127.0.0.1:8123")
