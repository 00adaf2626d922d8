"""Operator commands for the HSM and keys."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.errors import AppError
from app.keys.ca import REVOCATION_REASONS
from app.keys.hsm import KeyAlgorithm
from app.settings import Settings

hsm_cli = AppGroup("hsm", help="The HSM (PKCS#11 token).")


def _app_error(exc: AppError) -> click.ClickException:
    return click.ClickException(f"{exc.message} [{exc.code}]")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


@hsm_cli.command("init-dev-token")
def init_dev_token() -> None:
    """Create the development SoftHSM token under var/softhsm (once; PINs kept in files)."""
    from app.keys.devtoken import DevTokenError, ensure_dev_token

    settings = _settings()
    if settings.is_prod:
        raise click.ClickException("refusing to create a development token with SIGNET_ENV=prod")
    try:
        conf, created = ensure_dev_token(settings.var_dir, settings.hsm_token_label)
    except DevTokenError as exc:
        raise click.ClickException(str(exc)) from exc
    state = "created" if created else "already present"
    click.echo(f"SoftHSM token {settings.hsm_token_label!r} {state} (SOFTHSM2_CONF={conf})")
    if created and settings.hsm_user_pin is None:
        # this process read its settings before the token (and its PIN file) existed: read them again
        from app.keys import provider

        fresh = Settings.from_env()
        current_app.extensions["signet.settings"] = settings.with_(hsm_user_pin=fresh.hsm_user_pin)
        provider.reset()
    _provision_dev_services()


def _provision_dev_services() -> None:
    """Make the dev CA and TSA credentials now, once, rather than lazily in several workers at once."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.keys import ca, tsa

    try:
        ca.ensure_dev_ca()
        tsa.ensure_dev_tsa()
    except (AppError, SQLAlchemyError) as exc:
        click.echo(
            f"dev CA and TSA not made yet ({type(exc).__name__}): run this again after `flask db-upgrade`"
        )
        return
    click.echo("dev CA and TSA credentials present")


@hsm_cli.command("check")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def check(as_json: bool) -> None:
    """Log in to the token and report what it holds."""
    from app.keys.provider import get_hsm

    try:
        status = get_hsm().status()
    except AppError as exc:
        raise _app_error(exc) from exc
    if as_json:
        click.echo(json.dumps(status.__dict__))
        return
    click.echo(f"module:       {status.module}")
    click.echo(f"token:        {status.token_label} ({status.manufacturer} {status.model})")
    click.echo(f"keys:         {status.key_count}")
    click.echo("status:       ok")


keys_cli = AppGroup("keys", help="Credentials: keys in the HSM, their certificates.")
ALGORITHMS = click.Choice([a.value for a in KeyAlgorithm])


@keys_cli.command("create")
@click.option("--owner", "owner_name", required=True, help="person or school name (the certificate CN)")
@click.option("--algorithm", type=ALGORITHMS, default=KeyAlgorithm.RSA2048.value, show_default=True)
@click.option("--dev-ca", "dev_ca", is_flag=True, help="certify with the development CA (else: CSR, pending)")
@click.option("--organisation", default=None, help="O= of the subject (the school for a seal)")
@click.option("--purpose", type=click.Choice(["signing", "seal"]), default="signing", show_default=True)
@click.option("--tenant", "tenant_id", default=None, help="school/organisation id")
def create(
    owner_name: str,
    algorithm: str,
    dev_ca: bool,
    organisation: str | None,
    purpose: str,
    tenant_id: str | None,
) -> None:
    """Generate a key in the HSM for an owner; prints the credential id."""
    from app.keys import service

    try:
        credential = service.create_credential(
            owner_kind="organisation" if purpose == "seal" else "person",
            owner_name=owner_name,
            tenant_id=tenant_id,
            algorithm=KeyAlgorithm(algorithm),
            purpose=purpose,
            organisation=organisation,
            use_dev_ca=dev_ca,
        )
    except AppError as exc:
        raise _app_error(exc) from exc
    click.echo(credential.id)


@keys_cli.command("csr")
@click.argument("credential_id")
def csr(credential_id: str) -> None:
    """Print a PKCS#10 request (PEM) for the credential's key, signed in the HSM."""
    from app.keys import service

    try:
        click.echo(service.generate_csr(credential_id), nl=False)
    except AppError as exc:
        raise _app_error(exc) from exc


@keys_cli.command("import-cert")
@click.argument("credential_id")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cert(credential_id: str, path: Path) -> None:
    """Attach a certificate from a CA (PEM bundle: certificate then issuers; or one DER certificate)."""
    from app.keys import service

    try:
        credential = service.import_certificate(credential_id, path.read_bytes())
    except AppError as exc:
        raise _app_error(exc) from exc
    click.echo(f"{credential.id} active: {credential.subject_dn} (serial {credential.serial_hex})")


@keys_cli.command("list")
@click.option("--tenant", "tenant_id", default=None)
def list_(tenant_id: str | None) -> None:
    """Credentials, one per line."""
    from app.keys import service

    rows = service.list_credentials(tenant_id=tenant_id)
    header = ("ID", "STATUS", "PURPOSE", "ALGORITHM", "NOT AFTER", "OWNER")
    lines = [header] + [
        (
            c.id,
            c.status,
            c.purpose,
            c.algorithm,
            c.not_after.date().isoformat() if c.not_after else "-",
            c.owner_name,
        )
        for c in rows
    ]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        click.echo(
            "  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=False)) + "  " + str(line[-1])
        )


@keys_cli.command("revoke")
@click.argument("credential_id")
@click.option("--reason", required=True, type=click.Choice(sorted(REVOCATION_REASONS)))
@click.option("--keep-key", is_flag=True, help="do not destroy the key in the HSM")
def revoke(credential_id: str, reason: str, keep_key: bool) -> None:
    """Revoke a credential (listed on the development CA's CRL) and destroy its key."""
    from app.keys import service

    try:
        credential = service.revoke_credential(credential_id, reason=reason, destroy_key=not keep_key)
    except AppError as exc:
        raise _app_error(exc) from exc
    click.echo(f"{credential.id} revoked ({reason})")


COMMANDS = [hsm_cli, keys_cli]
