"""``flask audit verify``: walk the chain and the checkpoints, report the first break.
``flask audit checkpoint``: seal the chain head now (the task queue also does it every hour)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify() -> None:
    """Recompute every record's hash in order and check every checkpoint; exit 1 at the first break."""
    from app.audit.checkpoints import CheckpointProblem, verify_all

    report = verify_all()
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} records, {report.checkpoints} checkpoints verified")
        return
    brk = report.first_break
    assert brk is not None
    if isinstance(brk, CheckpointProblem):
        where = f"record #{brk.seq} (checkpoint {brk.checkpoint_id})"
    else:
        where = f"record #{brk.seq}" + (f" (id {brk.record_id})" if brk.record_id else "")
    intact = min(report.checked, brk.seq - 1)
    click.echo(f"audit chain BROKEN at {where}: {brk.reason}; {intact} records before it are intact")
    raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign and timestamp the chain head with the service's seal key."""
    from app.audit.checkpoints import create_checkpoint

    made = create_checkpoint()
    if made is None:
        click.echo("nothing new since the last checkpoint")
        return
    when = made.timestamp_time.isoformat() if made.timestamp_time else "no timestamp"
    click.echo(f"checkpoint at record #{made.seq} ({made.head_hash[:16]}…), timestamped {when}")


COMMANDS = [audit_cli]
