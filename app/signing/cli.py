"""``flask --app wsgi sign`` and ``flask --app wsgi verify``: the engine from a shell.

``sign`` uses a credential held in the HSM.  In production it refuses a personal credential: a
person's key may only be used through that person's own approval, never by an operator.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app

from app.errors import AppError
from app.settings import Settings
from app.signing.reports import Level, Revocation, VerificationReport

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


@click.command("sign")
@click.option("--credential", "credential_id", required=True, help="credential id")
@click.option("--level", type=click.Choice([lv.value for lv in Level]), default=Level.BT.value)
@click.option("--stamp", is_flag=True, help="add a visible stamp (name, role, date)")
@click.option("--role", default="", help="role line of the stamp, e.g. 'HIỆU TRƯỞNG'")
@click.option("--on-behalf", default=None, help="delegation line, e.g. 'KT. HIỆU TRƯỞNG'")
@click.option("--doc-type", default="transcript", show_default=True, help="stamp layout")
@click.option("--step", default=0, show_default=True, help="approval step (0 = first box)")
@click.option("--field", "field_name", default=None, help="signature field name")
@click.option("--reason", default=None)
@click.argument("in_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out_path", type=click.Path(dir_okay=False, path_type=Path))
def sign_cmd(
    credential_id: str,
    level: str,
    stamp: bool,
    role: str,
    on_behalf: str | None,
    doc_type: str,
    step: int,
    field_name: str | None,
    reason: str | None,
    in_path: Path,
    out_path: Path,
) -> None:
    """Sign IN.pdf with a credential from the HSM and write OUT.pdf (atomically)."""
    from app.keys import service
    from app.keys.provider import get_hsm
    from app.signing.inputs import write_atomically
    from app.signing.pdf import inspect_pdf, sign_pdf
    from app.signing.stamps import Stamp, placement_for
    from app.signing.timestamping import tsa_for

    settings = _settings()
    chosen = Level(level)
    try:
        if settings.is_prod and service.get_credential(credential_id).owner_kind == "person":
            raise click.ClickException(
                "refusing: a person's credential is used only through that person's own approval, "
                "never from the command line in production"
            )
        material = service.signing_material(credential_id)
        pdf = in_path.read_bytes()
        inspect_pdf(pdf, max_bytes=settings.max_pdf_bytes)
        tsa = tsa_for(settings, service.tsa_respond)
        revocation = None
        if chosen is Level.BLT:
            revocation = Revocation(tuple(service.trust_roots()), (service.dev_ca_crl_der(),))
        visible = None
        placement = None
        if stamp:
            visible = Stamp(
                signer_name=_common_name(material.certificate_der),
                role=role,
                signed_on=datetime.now(VN).date(),
                on_behalf=on_behalf,
            )
            placement = placement_for(doc_type, step)
        signed = sign_pdf(
            pdf,
            material=material,
            hsm=get_hsm(),
            level=chosen,
            tsa=tsa,
            revocation=revocation,
            stamp=visible,
            placement=placement,
            field_name=field_name,
            reason=reason,
            max_bytes=settings.max_pdf_bytes,
        )
    except AppError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    write_atomically(out_path, signed)
    click.echo(f"signed {in_path.name} -> {out_path} ({chosen}, {len(signed)} bytes)")


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_cmd(as_json: bool, path: Path) -> None:
    """Check every signature of FILE.pdf; exit 0 only if all are intact and trusted."""
    from app.keys import service
    from app.signing.pdf import verify_pdf

    try:
        report = verify_pdf(path.read_bytes(), trust_roots=list(service.trust_roots()))
    except AppError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "error": exc.code, "message": exc.message}))
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else _human(report))
    if not report.valid:
        raise SystemExit(1)


def _human(report: VerificationReport) -> str:
    if not report.signatures:
        return "no signatures: NOT VALID"
    lines = []
    for n, sig in enumerate(report.signatures, 1):
        verdict = "VALID" if sig.valid else "NOT VALID"
        when = sig.timestamp_time or sig.signing_time
        lines.append(f"#{n} {sig.field}: {verdict} — {sig.signer}, {sig.level}, {when:%Y-%m-%d %H:%M %Z}")
        lines.append(
            f"   intact={sig.intact} trusted={sig.trusted} revocation_embedded={sig.revocation_embedded}"
        )
        if sig.modified_after:
            lines.append(f"   changed afterwards: {sig.modified_after}")
        lines.extend(f"   problem: {p}" for p in sig.problems)
    lines.append("all signatures valid" if report.valid else "NOT VALID")
    return "\n".join(lines)


def _common_name(certificate_der: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = x509.load_der_x509_certificate(certificate_der).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    return str(names[0].value) if names else "?"


COMMANDS = [sign_cmd, verify_cmd]
