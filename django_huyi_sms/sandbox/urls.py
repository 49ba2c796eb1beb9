"""``path("sandbox/", include("django_huyi_sms.sandbox.urls"))`` — namespace ``huyi_sandbox``.

The provider's endpoint paths sit under the prefix, so a site points its
client at e.g. ``http://localhost:8000/sandbox/webservice/sms.php``.
"""

from django.urls import path, re_path

from . import views
from .wire import ROUTES

app_name = "huyi_sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("templates/review/", views.review_template, name="review_template"),
    re_path(r"^phone/(?P<mobile>[^/]+)\.json$", views.phone_json, name="phone_json"),
    re_path(r"^phone/(?P<mobile>[^/]+)/$", views.phone, name="phone"),
    *(path(route, views.provider, {"product": product}, name=product) for route, product in ROUTES.items()),
]
