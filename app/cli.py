"""Operator commands: ``flask --app wsgi <group> <command>``.

Each domain keeps its commands in its own ``cli.py`` (``COMMANDS``); this module gathers them.
"""

from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    from app.discovery import domain_modules

    for module in domain_modules("cli"):
        for command in module.COMMANDS:
            app.cli.add_command(command)

    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply every database migration (alembic upgrade heads)."""
        from app.migrate import upgrade

        upgrade(app.extensions["signet.settings"].database_url)
        click.echo("database is up to date")
