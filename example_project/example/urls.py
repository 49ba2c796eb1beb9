from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("sends/status/", views.send_statuses, name="send_statuses"),
    path("admin/", admin.site.urls),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sms/", include("django_huyi_sms.urls")),
]

if settings.USE_SANDBOX:
    # The fake ihuyi: its endpoints, and phone pages that show what each number "received".
    urlpatterns.append(path("sandbox/", include("django_huyi_sms.sandbox.urls")))
