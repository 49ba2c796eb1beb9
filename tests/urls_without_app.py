"""A site that includes the sandbox itself but not the app's URLs (``SANDBOX_SITE`` cannot work there)."""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("django_huyi_sms.sandbox.urls"))]
