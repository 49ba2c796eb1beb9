"""``path("sandbox/", include("django_huyi_sms.sandbox.urls"))`` — namespace ``huyi_sandbox``.

The provider's endpoint paths sit under the prefix, so a site points its
client at e.g. ``http://localhost:8000/sandbox/webservice/sms.php``. The app's
own URLs include these too, at ``sandbox/``, served while
``HUYI_SMS["SANDBOX_SITE"]`` is set (see ``views.py``). The page paths are
``paths.py``'s, which the standalone server routes as well.
"""

from django.urls import path, re_path

from . import views
from .paths import PHONE, PHONE_JSON, REVIEW_TEMPLATE
from .wire import ROUTES

app_name = "huyi_sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path(REVIEW_TEMPLATE, views.review_template, name="review_template"),
    re_path(f"^{PHONE_JSON}$", views.phone_json, name="phone_json"),
    re_path(f"^{PHONE}$", views.phone, name="phone"),
    *(path(route, views.provider, {"product": product}, name=product) for route, product in ROUTES.items()),
]
