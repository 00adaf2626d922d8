"""PDF work is called from code that may already run an event loop (async callers, Playwright)."""

from __future__ import annotations

import asyncio

from app.signing.pdf import _run


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_runs_without_a_loop() -> None:
    assert _run(_answer()) == 42


def test_runs_inside_a_running_loop() -> None:
    async def caller() -> int:
        return _run(_answer())  # type: ignore[no-any-return]

    assert asyncio.run(caller()) == 42


def test_the_helper_thread_sees_the_callers_application(app: object) -> None:
    from flask import current_app

    async def app_name() -> str:
        return str(current_app.name)

    async def caller() -> str:
        return _run(app_name())  # type: ignore[no-any-return]

    assert asyncio.run(caller()) == "app"
