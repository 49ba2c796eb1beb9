"""Create the demo's superuser if it is missing, and say how to sign in. Safe to run again."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse

from django_huyi_sms.adapter import get_adapter

USERNAME = "admin"
DEFAULT_PASSWORD = "admin-demo-123"
# The superuser's verified number, so that it can sign in with an SMS code too.
DEMO_MOBILE = "13800138000"


class Command(BaseCommand):
    help = f"Create the superuser {USERNAME!r} if missing (password: DEMO_ADMIN_PASSWORD, else {DEFAULT_PASSWORD!r})."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_PASSWORD
        users = get_user_model().objects
        user = users.filter(username=USERNAME).first()
        if user is None:
            users.create_superuser(USERNAME, "admin@example.com", password)
            self.stdout.write(self.style.SUCCESS(f"Created the superuser {USERNAME!r}."))
            password_line = password
        elif user.check_password(password):
            self.stdout.write(f"The superuser {USERNAME!r} already exists.")
            password_line = password
        else:
            # Never overwrite a password somebody chose.
            self.stdout.write(f"The superuser {USERNAME!r} already exists with a password of its own.")
            password_line = f"(yours; reset it with: manage.py changepassword {USERNAME})"

        adapter = get_adapter()
        user = users.get(username=USERNAME)
        mobile = adapter.get_user_mobile(user)
        if mobile is None and adapter.get_user_by_mobile(DEMO_MOBILE) is None:
            adapter.set_user_mobile(user, DEMO_MOBILE)
            mobile = DEMO_MOBILE

        site = settings.DEMO_SITE_URL
        self.stdout.write("")
        self.stdout.write(f"  Site:      {site}{reverse('home')}")
        self.stdout.write(f"  Admin:     {site}{reverse('admin:index')}")
        self.stdout.write(f"  Username:  {USERNAME}")
        self.stdout.write(f"  Password:  {password_line}")
        if mobile:
            self.stdout.write(f"  Mobile:    {mobile}  (sign in with an SMS code: {site}{reverse('huyi_sms:login')})")
        if settings.USE_SANDBOX:
            sandbox = f"{site}{reverse('huyi_sms:sandbox:index')}"
            self.stdout.write(f"  Sandbox:   {sandbox}  (the phones: what each number received)")
        self.stdout.write("")
