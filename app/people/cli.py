"""Operator commands: ``flask seed-demo`` and ``flask people ...``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import AppError
from app.settings import Settings

people_cli = AppGroup("people", help="People and roster of a school.")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo school (idempotent) and print one-time enrolment links."""
    from app.people.demo import seed_demo as seed

    school, invitations = seed()
    lines = [f"{i.display_name} ({i.username}; {i.roles}): {i.url}" for i in invitations]
    click.echo(f"{school.name} ({school.code}) is ready.")
    if not _settings().is_prod:
        click.echo("Its seal is certified by the development CA; its district is on a trial plan.")
    if not lines:
        click.echo("Everybody is enrolled already; no new invitation links.")
        return
    path = _settings().var_dir / "demo-invitations.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo("One-time enrolment links (valid 72 hours; also in " + str(path) + "):")
    for line in lines:
        click.echo("  " + line)


@people_cli.command("import")
@click.argument("school_code")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["staff", "classes"]), required=True)
@click.option("--dry-run", is_flag=True, help="check and report only")
@click.option("--school-year", default=None, help="for rows without Năm học (default: the current one)")
def import_roster(school_code: str, path: Path, kind: str, dry_run: bool, school_year: str | None) -> None:
    """Import a staff or class list (CSV/XLSX) into a school; prints the row-by-row report."""
    from app.people.imports import import_roster as run
    from app.people.service import school_by_code

    try:
        report = run(
            tenant_id=school_by_code(school_code).id,
            actor_id=None,
            kind=kind,
            filename=path.name,
            content=path.read_bytes(),
            dry_run=dry_run,
            school_year=school_year,
        )
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    for row in report["rows"]:
        reason = f" — {row['reason']}" if row.get("reason") else ""
        click.echo(f"row {row['row']:>4}  {row['status']:<9}  {row.get('name') or ''}{reason}")
    counts = report["counts"]
    click.echo(
        f"{report['status']}: {counts['accepted']} accepted, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['refused']} refused"
    )
    if report["status"] == "refused":
        raise SystemExit(1)


@people_cli.command("invite")
@click.argument("username")
def invite(username: str) -> None:
    """Print a new one-time enrolment link for a person (72 hours)."""
    from app.auth.service import create_invitation
    from app.people.service import person_by_username

    try:
        person = person_by_username(username)
        created = create_invitation(tenant_id=person.tenant_id, actor_id=None, person_id=person.id)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(created.url)


COMMANDS = [seed_demo, people_cli]
