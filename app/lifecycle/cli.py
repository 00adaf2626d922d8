"""``flask lifecycle renew --days 30`` and ``flask lifecycle offboard <person>``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import AppError
from app.lifecycle import service

lifecycle_cli = AppGroup("lifecycle", help="Credential lifecycle: renewals and leavers.")


@lifecycle_cli.command("renew")
@click.option(
    "--days", type=int, default=30, show_default=True, help="renew what expires within this many days"
)
@click.option("--dry-run", is_flag=True, help="list what would be renewed")
def renew(days: int, dry_run: bool) -> None:
    """Renew certificates close to expiry (new key, new certificate; the old one is kept)."""
    try:
        if dry_run:
            for credential in service.expiring(days=days):
                click.echo(
                    f"{credential.id}  {credential.owner_name}  expires {credential.not_after:%Y-%m-%d}"
                )
            return
        renewed = service.renew_expiring(days=days)
    except AppError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
    for r in renewed:
        until = f"{r.not_after:%Y-%m-%d}" if r.not_after else "-"
        click.echo(f"{r.old_credential_id} -> {r.new_credential_id}  {r.status}  until {until}")
    click.echo(f"{len(renewed)} renewed")


@lifecycle_cli.command("offboard")
@click.argument("person_id")
def offboard(person_id: str) -> None:
    """A teacher leaves: suspend, revoke and destroy their keys, hand their work to the school admin."""
    try:
        result = service.offboard(person_id=person_id, actor_id=None)
    except AppError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
    click.echo(f"revoked {len(result.revoked_credential_ids)} credential(s)")
    click.echo(f"{len(result.handed_over)} waiting document(s) handed to the school admins")


COMMANDS = [lifecycle_cli]
