from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("django_huyi_sms.urls")),
    path("sandbox/", include("django_huyi_sms.sandbox.urls")),
]
