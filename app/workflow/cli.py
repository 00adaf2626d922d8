"""Operator commands of the signing workflow."""

from __future__ import annotations

import click
from flask.cli import AppGroup

workflow_cli = AppGroup("workflow", help="The signing workflow.")


@workflow_cli.command("sweep")
@click.option("--grace", type=int, default=None, help="seconds an approved document may wait (default 300)")
def sweep(grace: int | None) -> None:
    """Take back expired signing leases and re-queue approved work nobody is doing."""
    from datetime import timedelta

    from app.workflow.signing import sweep as do_sweep

    result = do_sweep(grace=timedelta(seconds=grace) if grace is not None else None)
    click.echo(f"leases taken back: {result['leases_taken_back']}, documents re-queued: {result['requeued']}")


COMMANDS = [workflow_cli]
