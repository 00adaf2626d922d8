"""Billing: what metering adds per signature, and the district dashboard over a million signatures.

- ``billing.metering_ms_per_signature``: what metering adds to the signing path, per signature.  The
  signing task stores a chunk of ``CHUNK`` (= ``app.workflow.tasks.CHUNK``) signatures in one
  transaction and meters them there with one ``record_signatures`` call (resolve who pays, insert the
  ledger rows, bump the day and class aggregates and the subscription's count); this is the mean time
  of that call divided by the chunk's size, over ``METERED`` signatures on top of a million.
  ``billing.metering_commit_ms_per_signature`` is the whole transaction (metering + commit) per
  signature: an upper bound, since the signing transaction commits anyway.
  ``billing.metering_single_ms`` is a chunk of one (a one-document approval), and
  ``billing.select1_txn_ms`` a transaction doing ``SELECT 1`` (what the machine charges for any
  transaction at all, so a loaded machine can be told from slow metering).
- ``billing.district_dashboard_ms``: median time of ``usage.district_dashboard`` for a district of
  ``SCHOOLS`` schools after ``SIGNATURES`` signatures over ``DAYS`` days were bulk-loaded (ledger and
  aggregates, as metering would have left them).

PostgreSQL when ``BENCH_DATABASE_URL`` is set, SQLite otherwise; the backend is printed on stderr
and ``billing.on_postgresql`` is 1 or 0.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import delete, insert, text, update

from app import create_app
from app.billing import service, usage
from app.billing.models import SignatureUsage, Subscription, UsageClass, UsageDaily
from app.db import session, transaction
from app.people.models import Person, RoleAssignment
from app.tenants.models import DISTRICT, SCHOOL, Organisation
from app.workflow import tasks
from tests.benchmarks.common import BenchContext, median, percentile

SCHOOLS = 100
SIGNATURES = 1_000_000
DAYS = 240
CLASSES = 30
DOC_TYPES = ("hoc_ba", "certificate")
METERED = 2_000
CHUNK = tasks.CHUNK  # signatures the signing task stores (and meters) per transaction
SINGLES = 200
DASHBOARD_RUNS = 7


def _tree(tag: str) -> tuple[Organisation, list[Organisation], Person]:
    with transaction() as s:
        district = Organisation(
            id=str(uuid.uuid4()), kind=DISTRICT, code=f"BD{tag}", name="Phòng GDĐT Bench", policy={}
        )
        s.add(district)
        s.flush()
        schools = [
            Organisation(
                id=str(uuid.uuid4()),
                kind=SCHOOL,
                code=f"BS{tag}{n:03d}",
                name=f"Trường Tiểu học Bench {n}",
                parent_id=district.id,
                policy={},
            )
            for n in range(SCHOOLS)
        ]
        s.add_all(schools)
        s.flush()
        viewer = Person(
            id=str(uuid.uuid4()),
            tenant_id=None,
            organisation_id=district.id,
            display_name="Kế toán phòng",
            username=f"bench-{tag}",
            webauthn_user_id=uuid.uuid4().hex,
            status="active",
        )
        s.add(viewer)
        s.flush()
        s.add(RoleAssignment(person_id=viewer.id, organisation_id=district.id, role="district_admin"))
    return district, schools, viewer


LEDGER_COLUMNS = "document_id, step, tenant_id, subscription_id, doc_type, class_id, signed_at"
COPY_LEDGER = f"COPY billing_signatures ({LEDGER_COLUMNS}) FROM STDIN"
INSERT_LEDGER = f"INSERT INTO billing_signatures ({LEDGER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608


def _write_ledger(rows: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL, one executemany on SQLite: the fastest way each backend takes rows."""
    s = session()
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(COPY_LEDGER) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(
            INSERT_LEDGER, [(*row[:-1], row[-1].strftime("%Y-%m-%d %H:%M:%S.000000")) for row in rows]
        )


def _bulk_load(schools: list[Organisation], subscription_id: str, today: Any) -> float:
    """Ledger rows and the aggregates metering would have built, in batches; returns seconds."""
    started = time.perf_counter()
    rng = random.Random(8)
    daily: Counter[tuple[str, Any, str]] = Counter()
    per_class: Counter[tuple[str, str, str]] = Counter()
    classes = {x.id: [str(uuid.uuid4()) for _ in range(CLASSES)] for x in schools}
    first_day = today - timedelta(days=DAYS - 1)
    days = [first_day + timedelta(days=n) for n in range(DAYS)]
    stamps = [datetime.combine(day, dtime(3, 0), tzinfo=UTC) for day in days]
    prefix = uuid.uuid4().hex[:8]
    batch: list[tuple[Any, ...]] = []
    for n in range(SIGNATURES):
        school = schools[n % SCHOOLS].id
        d = rng.randrange(DAYS)
        doc_type = DOC_TYPES[int(n % 7 == 0)]
        klass = classes[school][rng.randrange(CLASSES)]
        daily[(school, days[d], doc_type)] += 1
        per_class[(school, klass, doc_type)] += 1
        batch.append(
            (f"{prefix}{n:024x}", str(1 + n % 3), school, subscription_id, doc_type, klass, stamps[d])
        )
        if len(batch) == 100_000:
            with transaction():
                _write_ledger(batch)
            batch = []
    with transaction() as s:
        if batch:
            _write_ledger(batch)
        s.execute(
            insert(UsageDaily),
            [
                {"tenant_id": t, "day": d, "doc_type": k, "subscription_id": subscription_id, "count": c}
                for (t, d, k), c in daily.items()
            ],
        )
        s.execute(
            insert(UsageClass),
            [
                {
                    "subscription_id": subscription_id,
                    "tenant_id": t,
                    "class_id": k,
                    "doc_type": dt,
                    "count": c,
                }
                for (t, k, dt), c in per_class.items()
            ],
        )
        s.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(used_signatures=Subscription.used_signatures + SIGNATURES)
        )
    return time.perf_counter() - started


def _signatures(tenant_id: str, n: int) -> list[service.Signature]:
    moment = datetime.now(UTC)
    return [service.Signature(tenant_id, str(uuid.uuid4()), 1, "hoc_ba", None, moment) for _ in range(n)]


def run(ctx: BenchContext) -> dict[str, float]:
    app = create_app(ctx.settings)
    on_pg = ctx.settings.database_url.startswith("postgresql")
    print(f"    billing: {'PostgreSQL' if on_pg else 'SQLite'} ({SIGNATURES:,} signatures)", file=sys.stderr)
    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        district, schools, viewer = _tree(tag)
        today = service.today()
        plan = service.create_plan(
            actor_id=None,
            code=f"bench-{tag}",
            name="Bench",
            scope="district",
            included_signatures=10 * SIGNATURES,
            price_vnd=100_000_000,
        )
        sub = service.create_subscription(
            actor_id=None,
            organisation_id=district.id,
            plan_id=plan.id,
            period_start=today - timedelta(days=DAYS),
            period_end=today + timedelta(days=30),
            status="active",
        )
        baseline: list[float] = []  # the same loop with a one-row SELECT: the machine's floor
        for _ in range(METERED // 4):
            t0 = time.perf_counter()
            with transaction() as s:
                s.execute(text("SELECT 1"))
            baseline.append(time.perf_counter() - t0)
        load_s = _bulk_load(schools, sub.id, today)
        print(f"    billing: bulk load {load_s:.1f} s", file=sys.stderr)
        with transaction() as s:  # what autovacuum would have done after such a load
            s.execute(text("ANALYZE"))
        # metering on top of a million rows, a chunk per transaction as the signing task stores them
        calls: list[float] = []  # per signature
        whole: list[float] = []  # per signature, commit included
        for n in range(METERED // CHUNK):
            chunk = _signatures(schools[n % SCHOOLS].id, CHUNK)
            t0 = time.perf_counter()
            with transaction() as s:
                t1 = time.perf_counter()
                service.record_signatures(s, chunk)
                calls.append((time.perf_counter() - t1) / CHUNK)
            whole.append((time.perf_counter() - t0) / CHUNK)
        single: list[float] = []
        for n in range(SINGLES):
            (one,) = _signatures(schools[n % SCHOOLS].id, 1)
            with transaction() as s:
                t1 = time.perf_counter()
                service.record_signatures(s, [one])
                single.append(time.perf_counter() - t1)
        usage.district_dashboard(viewer_id=viewer.id, district_id=district.id)  # warm caches
        runs = []
        for _ in range(DASHBOARD_RUNS):
            t0 = time.perf_counter()
            board = usage.district_dashboard(viewer_id=viewer.id, district_id=district.id)
            runs.append(time.perf_counter() - t0)
        metered = METERED // CHUNK * CHUNK + SINGLES
        assert board.total == SIGNATURES + metered, board.total
        counted = session().get(Subscription, sub.id, populate_existing=True)
        assert counted is not None and counted.used_signatures == SIGNATURES + metered  # each once
        session().rollback()
        school_runs = []
        for school in schools[:5]:
            t0 = time.perf_counter()
            usage.school_dashboard(viewer_id=viewer.id, tenant_id=school.id)
            school_runs.append(time.perf_counter() - t0)
        with transaction() as s:  # leave a shared benchmark database as small as we found it
            ids = [x.id for x in schools]
            s.execute(delete(SignatureUsage).where(SignatureUsage.tenant_id.in_(ids)))
            s.execute(delete(UsageDaily).where(UsageDaily.tenant_id.in_(ids)))
            s.execute(delete(UsageClass).where(UsageClass.tenant_id.in_(ids)))
    return {
        "billing.metering_ms_per_signature": 1000 * statistics.fmean(calls),
        "billing.metering_p95_ms_per_signature": 1000 * percentile(calls, 95),
        "billing.metering_commit_ms_per_signature": 1000 * statistics.fmean(whole),
        "billing.metering_single_ms": 1000 * statistics.fmean(single),
        "billing.select1_txn_ms": 1000 * statistics.fmean(baseline),
        "billing.district_dashboard_ms": 1000 * median(runs),
        "billing.school_dashboard_ms": 1000 * median(school_runs),
        "billing.on_postgresql": 1.0 if on_pg else 0.0,
    }
