"""The example site of django-huyi-sms: settings, URLs, one page and a setup command."""
