from importlib.util import find_spec

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HuyiSmsConfig(AppConfig):
    name = "django_huyi_sms"
    label = "huyi_sms"
    verbose_name = _("ihuyi SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        # The API's OpenAPI description, for sites that publish a schema (the "openapi" extra).
        if find_spec("drf_spectacular") is not None:
            from . import openapi  # noqa: F401  (registers drf-spectacular's extensions)
