"""What a one-time code is for. Any short label works with ``otp.py``; these are the app's own."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LOGIN = "login"
PASSWORD_RESET = "password_reset"
VERIFY_PHONE = "verify_phone"

#: The purposes a code can be asked for through the pages and the JSON API.
ALL = (LOGIN, PASSWORD_RESET, VERIFY_PHONE)
#: The purposes whose flows never tell whether a number has an account.
FOR_ACCOUNTS = (LOGIN, PASSWORD_RESET)

#: A purpose is a short label: at most this many characters (the log's and the records' column).
MAX_LENGTH = 32

#: What people read for the app's own purposes (the admin, its filters and its export).
LABELS = {
    LOGIN: _("sign-in"),
    PASSWORD_RESET: _("password reset"),
    VERIFY_PHONE: _("phone verification"),
}


def label(purpose: str) -> str:
    """``purpose`` as people read it: the app's own purposes by their label, any other as it was given."""
    return str(LABELS.get(purpose, purpose))
