from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HuyiSmsConfig(AppConfig):
    name = "django_huyi_sms"
    label = "huyi_sms"
    verbose_name = _("ihuyi SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
