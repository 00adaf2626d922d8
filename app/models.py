"""Imports every domain's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from app.discovery import domain_modules


def import_all_models() -> None:
    domain_modules("models")
