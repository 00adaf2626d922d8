"""Counting the SQL statements a piece of code runs (set-based paths cost the same for 3 or 1,000 rows)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from app.db import get_db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements this thread runs inside the block (a worker thread's, on the broker run, are not
    counted). SQLite's ``BEGIN IMMEDIATE`` is left out: it is the transaction, not the work."""
    seen: list[str] = []
    engine = get_db().engine
    me = threading.get_ident()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == me and not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
