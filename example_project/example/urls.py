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
# The sandbox (its endpoints, and phone pages that show what each number "received") is served by
# the app's URLs at sms/sandbox/ while HUYI_SMS["SANDBOX_SITE"] is set: see settings.py.
