"""The migrations match the models: one initial migration, and nothing left for makemigrations."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

import django_huyi_sms


def test_the_app_has_one_initial_migration():
    folder = Path(django_huyi_sms.__file__).parent / "migrations"
    assert sorted(path.name for path in folder.glob("0*.py")) == ["0001_initial.py"]


@pytest.mark.django_db
def test_makemigrations_finds_nothing_to_do():
    out = StringIO()
    try:
        call_command("makemigrations", "huyi_sms", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit:  # --check exits non-zero when a migration is missing
        pytest.fail(f"the models and migrations differ (exit {exit.code}):\n{out.getvalue()}")
