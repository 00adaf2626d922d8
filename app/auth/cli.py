"""Operator commands: ``flask auth unlock USERNAME``, ``flask auth sign-out USERNAME``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import AppError

auth_cli = AppGroup("auth", help="Sign-in factors and sessions.")


@auth_cli.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Clear a person's locked factors and failure counts."""
    from app.auth.service import unlock_person
    from app.people.service import person_by_username

    try:
        person = person_by_username(username)
        unlocked = unlock_person(tenant_id=person.tenant_id, actor_id=None, person_id=person.id)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{person.username}: unlocked {', '.join(unlocked) or 'nothing (no factor was locked)'}")


@auth_cli.command("sign-out")
@click.argument("username")
def sign_out_everywhere(username: str) -> None:
    """End every open session of a person (a lost phone)."""
    from app.auth.devices import sign_out_everywhere as run
    from app.people.service import person_by_username

    try:
        person = person_by_username(username)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{person.username}: {run(person_id=person.id)} session(s) ended")


COMMANDS = [auth_cli]
