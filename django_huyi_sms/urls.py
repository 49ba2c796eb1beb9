"""The app's URLs: ``path("sms/", include("django_huyi_sms.urls"))``, namespace ``huyi_sms``."""

from django.urls import path  # noqa: F401

app_name = "huyi_sms"

urlpatterns: list = []
