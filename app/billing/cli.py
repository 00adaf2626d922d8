"""``flask operator ...`` (the console) and ``flask billing ...`` (plans, subscriptions, statements).

CLI actions are audited with no actor (the operator at the shell); the audit says ``actor_id=None``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.billing import console, service, statements
from app.billing.models import Plan, Subscription
from app.db import session
from app.errors import AppError
from app.tenants.models import Organisation

operator_cli = AppGroup("operator", help="The operator console: tenants, plans, HSM, queue, stalled work.")
billing_cli = AppGroup("billing", help="Plans, subscriptions and statements.")


def _fail(exc: AppError) -> click.ClickException:
    return click.ClickException(f"{exc.message} [{exc.code}]")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _plan_row(p: Plan) -> str:
    overage = f"+{p.overage_unit_price_vnd}/lượt" if p.overage_allowed else "no overage"
    return (
        f"{p.id}  {p.code:<20} {p.scope:<8} {p.included_signatures:>9} incl.  "
        f"{p.price_vnd:>12} VND  {overage}"
    )


def _subscription_row(x: Subscription) -> str:
    org = session().get(Organisation, x.organisation_id)
    who = f"{org.code} {org.name}" if org else x.organisation_id
    return (
        f"{x.id}  {x.status:<8} {x.period_start}..{x.period_end}  "
        f"{x.used_signatures:>8}/{x.plan.included_signatures:<8} {x.plan.code:<16} {who}"
    )


@operator_cli.command("tenants")
def tenants_cmd() -> None:
    """Organisations and the quota that pays for each."""
    for t in console.tenants():
        quota = (
            f"{t.quota.used}/{t.quota.included} ({t.quota.status}, paid by {t.quota.organisation_id})"
            if t.quota
            else "-"
        )
        click.echo(f"{t.id}  {t.kind:<10} {t.code:<12} {t.name:<40} {quota}")


@operator_cli.command("plans")
def plans_cmd() -> None:
    """Every plan."""
    for p in service.list_plans():
        click.echo(_plan_row(p))


@operator_cli.command("subscriptions")
@click.option("--organisation", "organisation_id", default=None, help="only this school or district office")
def subscriptions_cmd(organisation_id: str | None) -> None:
    """Subscriptions, newest period first."""
    for x in service.list_subscriptions(organisation_id=organisation_id):
        click.echo(_subscription_row(x))


@operator_cli.command("hsm")
def hsm_cmd() -> None:
    """The HSM token's status."""
    _echo_json(console.hsm_status())


@operator_cli.command("queue")
def queue_cmd() -> None:
    """Messages waiting on the task queue."""
    _echo_json(console.queue_depth())


@operator_cli.command("stalled")
def stalled_cmd() -> None:
    """Documents whose signing lease has run out."""
    _echo_json(console.stalled())


@billing_cli.command("plan-create")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--scope", type=click.Choice(["school", "district"]), required=True)
@click.option("--included", type=int, required=True, help="signatures included in the period")
@click.option("--price", type=int, required=True, help="price of the period, VND")
@click.option("--overage-price", type=int, default=None, help="VND per extra signature (allows overage)")
@click.option("--vat", type=int, default=10, show_default=True)
def plan_create(
    code: str, name: str, scope: str, included: int, price: int, overage_price: int | None, vat: int
) -> None:
    """Define a plan."""
    try:
        plan = service.create_plan(
            actor_id=None,
            code=code,
            name=name,
            scope=scope,
            included_signatures=included,
            price_vnd=price,
            overage_allowed=overage_price is not None,
            overage_unit_price_vnd=overage_price or 0,
            vat_percent=vat,
        )
    except AppError as exc:
        raise _fail(exc) from exc
    click.echo(_plan_row(plan))


@billing_cli.command("subscribe")
@click.argument("organisation_id")
@click.argument("plan_id")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--status", type=click.Choice(["trial", "active"]), default="trial", show_default=True)
def subscribe(organisation_id: str, plan_id: str, start: Any, end: Any, status: str) -> None:
    """Subscribe a school or a district office to a plan."""
    try:
        sub = service.create_subscription(
            actor_id=None,
            organisation_id=organisation_id,
            plan_id=plan_id,
            period_start=date.fromisoformat(start.date().isoformat()),
            period_end=date.fromisoformat(end.date().isoformat()),
            status=status,
        )
    except AppError as exc:
        raise _fail(exc) from exc
    click.echo(_subscription_row(sub))


@billing_cli.command("status")
@click.argument("subscription_id")
@click.argument("status", type=click.Choice(["trial", "active", "past_due", "ended"]))
def status_cmd(subscription_id: str, status: str) -> None:
    """Move a subscription to another status."""
    try:
        click.echo(
            _subscription_row(service.transition_subscription(subscription_id, actor_id=None, status=status))
        )
    except AppError as exc:
        raise _fail(exc) from exc


@billing_cli.command("change-plan")
@click.argument("subscription_id")
@click.argument("plan_id")
def change_plan_cmd(subscription_id: str, plan_id: str) -> None:
    """Upgrade or downgrade a subscription."""
    try:
        click.echo(_subscription_row(service.change_plan(subscription_id, actor_id=None, plan_id=plan_id)))
    except AppError as exc:
        raise _fail(exc) from exc


@billing_cli.command("statement")
@click.argument("subscription_id")
@click.argument("month")
@click.option("--format", "fmt", type=click.Choice(["pdf", "csv"]), default="pdf", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def statement_cmd(subscription_id: str, month: str, fmt: str, out: Path) -> None:
    """Write the monthly statement of a subscription (PDF or CSV)."""
    try:
        sub = service.get_subscription(subscription_id)
        org = session().get(Organisation, sub.organisation_id)
        if org is None:
            raise click.ClickException("the subscription's organisation is gone")
        st = statements.statement_for(session(), sub, org, month)
    except AppError as exc:
        raise _fail(exc) from exc
    out.write_bytes(statements.statement_csv(st) if fmt == "csv" else statements.statement_pdf(st))
    click.echo(f"{out}: {st.signatures} signatures, total {st.total_vnd} VND")


COMMANDS = [operator_cli, billing_cli]
