"""What benchmarks share: a throw-away var dir with its own SoftHSM token and database."""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.keys.devtoken import ensure_dev_token
from app.settings import Settings

BENCH_TOKEN_LABEL = "signet-bench"


@dataclass
class BenchContext:
    var_dir: Path
    settings: Settings
    figures: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls) -> BenchContext:
        var_dir = Path(tempfile.mkdtemp(prefix="signet-bench-"))
        conf, _ = ensure_dev_token(var_dir, BENCH_TOKEN_LABEL)
        os.environ["SOFTHSM2_CONF"] = str(conf)
        database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{var_dir / 'bench.db'}"
        env = {
            "SIGNET_ENV": "test",
            "SIGNET_VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "HSM_TOKEN_LABEL": BENCH_TOKEN_LABEL,
            "HSM_USER_PIN": (var_dir / "softhsm" / "user.pin").read_text().strip(),
            "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "memory://"),
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update({k: v for k, v in env.items() if k != "HSM_USER_PIN"})
        from app.migrate import upgrade

        upgrade(database_url)
        return cls(var_dir=var_dir, settings=Settings.from_env(env))

    def close(self) -> None:
        shutil.rmtree(self.var_dir, ignore_errors=True)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_module(name: str, ctx: BenchContext, send: Any) -> None:
    """A spawned process's work (``make bench`` runs each module in a process of its own): the
    module's ``run(ctx)``, its figures sent back, None when it failed."""
    try:
        module = importlib.import_module(f"tests.benchmarks.{name}")
        send.send(module.run(ctx))
    except Exception:
        traceback.print_exc()
        send.send(None)
