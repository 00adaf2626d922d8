"""The PWA on a phone: first-screen JavaScript, Lighthouse mobile performance of the inbox, and the
inbox with 500 waiting transcripts on a CPU-throttled phone.

The real app (built ``frontend/dist``, the run's database and SoftHSM token) is served by werkzeug on
``http://localhost:PORT``; a homeroom teacher has 500 transcripts waiting, uploaded through the API
(PDFs + CSV manifest) like a clerk would.  Debian's Chromium is driven by Playwright (Pixel 5).

Figures:
- ``pwa.first_screen_js_gz_kb``: gzipped JavaScript loaded by the first screen (the larger of the
  signed-out sign-in screen and a signed-in teacher's inbox); target ≤ 60.
  ``pwa.signin_js_gz_kb`` / ``pwa.inbox_js_gz_kb`` are the two parts.
- ``pwa.lighthouse_perf``: Lighthouse (npm ``lighthouse``, frontend devDependency) mobile performance
  score of the inbox (0–100; simulated slow 4G and 4× CPU), signed in through an extra Cookie header;
  target ≥ 90.  Absent (with the reason on stderr) when Lighthouse cannot run.
- ``pwa.inbox500_render_ms``: navigation start → the inbox of 500 transcripts (grouped by class, with
  counts) on screen, CPU throttled 4× (``Emulation.setCPUThrottlingRate``), median of 5 warm loads;
  target < 1000.  ``pwa.class500_render_ms`` is the class screen listing the 500 rows.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.benchmarks.common import BenchContext, median

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCUMENTS = int(os.environ.get("BENCH_PWA_DOCUMENTS", "500"))
ROUNDS = 5
# set by an init script (not the app): when the screen's content first appears
MARK_JS = """(() => {
  const marks = {};
  window.__signetMarks = marks;
  new MutationObserver(() => {
    if (!marks.inbox && document.querySelector('section[aria-labelledby="inbox-heading"] h3'))
      marks.inbox = performance.now();
    if (!marks.list && document.querySelectorAll('.doc-row').length >= %d) marks.list = performance.now();
  }).observe(document, {childList: true, subtree: true});
})();"""


def _log(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def _seed(app: Any) -> tuple[Any, str]:
    from app import db
    from app.auth import sessions
    from app.auth.clock import now
    from app.people import rules
    from tests.support.factories import make_class, make_person, make_school, sign_in
    from tests.support.workflow_world import make_credential, transcript_pdf

    with app.app_context():
        school = make_school("Trường Tiểu học Ngọc Thụy", "BENCH-PWA")
        klass = make_class(school, "5A", "2024-2025")
        clerk = make_person(school, name="Lê Thị Văn Thư", roles=(rules.CLERK,))
        teacher = make_person(school, name="Nguyễn Thị Hồng Vân", roles=(rules.TEACHER,), homeroom=klass)
        head = make_person(school, name="Trần Văn Bình", roles=(rules.PRINCIPAL,))
        make_credential(school, seal=True)
        for signer in (teacher, head):
            make_credential(signer)
        client = sign_in(app, clerk)
        pdf = {i: transcript_pdf(f"Hoc sinh {i}", f"HS{i:05d}") for i in range(1, DOCUMENTS + 1)}
        for start in range(1, DOCUMENTS + 1, 100):
            batch = range(start, min(start + 100, DOCUMENTS + 1))
            manifest = "file,student_code,student_name,class,school_year\n" + "".join(
                f"hs{i:05d}.pdf,HS{i:05d},Học sinh {i:03d},5A,2024-2025\n" for i in batch
            )
            response = client.post(
                "/api/v1/documents",
                data={
                    "files": [(io.BytesIO(pdf[i]), f"hs{i:05d}.pdf") for i in batch],
                    "manifest": (io.BytesIO(manifest.encode()), "manifest.csv"),
                },
                content_type="multipart/form-data",
            )
            assert response.status_code == 200 and response.get_json()["created"] == len(batch), response.data
        import time

        teacher_client = sign_in(app, teacher)
        started = time.perf_counter()
        inbox = teacher_client.get("/api/v1/inbox")
        took = (time.perf_counter() - started) * 1000
        _log(f"GET /inbox: {len(inbox.get_json())} documents in {took:.0f} ms")
        assert len(inbox.get_json()) == DOCUMENTS, "the transcripts are not waiting for the teacher"
        settings = app.extensions["signet.settings"]
        with db.transaction() as s:
            issued = sessions.issue(
                s, settings, person=teacher, method="passkey", user_agent="bench", now=now()
            )
        cookies = {sessions.SESSION_COOKIE: issued.token, sessions.CSRF_COOKIE: issued.csrf_token}
        return cookies, klass.id


def _script_kb(page: Any, url: str, done: str) -> float:
    bodies: list[bytes] = []

    def keep(response: Any) -> None:
        if response.request.resource_type == "script" and response.ok:
            bodies.append(response.body())

    page.on("response", keep)
    page.goto(url)
    page.wait_for_selector(done, timeout=120_000)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", keep)
    return sum(len(gzip.compress(body, 9)) for body in bodies) / 1024


def _lighthouse(url: str, cookies: dict[str, str]) -> float | None:
    binary = FRONTEND / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        _log("lighthouse: not installed (cd frontend && npm ci)")
        return None
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    command = [
        str(binary),
        url,
        "--only-categories=performance",
        "--output=json",
        "--quiet",
        f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
        f"--extra-headers={json.dumps({'Cookie': cookie})}",
        "--max-wait-for-load=60000",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        _log("lighthouse: timed out after 300 s")
        return None
    if done.returncode != 0:
        _log(f"lighthouse failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    report = json.loads(done.stdout)
    for audit in ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "speed-index"):
        _log(f"lighthouse {audit}: {report['audits'][audit]['displayValue']}")
    if report.get("runtimeError"):
        _log(f"lighthouse runtime error: {report['runtimeError']}")
        return None
    score = report["categories"]["performance"]["score"]
    return None if score is None else round(float(score) * 100, 1)


def run(ctx: BenchContext) -> dict[str, float]:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app import create_app

    if not (FRONTEND / "dist" / "index.html").is_file():
        raise RuntimeError("frontend/dist is missing: run `make frontend`")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, lambda env, start: [], threaded=True)
    origin = f"http://localhost:{server.server_port}"
    # eager tasks: intake (the QR on every transcript) runs inline, as with `make run`'s worker
    app = create_app(ctx.settings.with_(public_base_url=origin, rp_id="localhost", celery_always_eager=True))
    server.app = app
    _log(f"seeding {DOCUMENTS} waiting transcripts…")
    cookies, class_id = _seed(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    figures: dict[str, float] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            phone = {k: v for k, v in p.devices["Pixel 5"].items() if k != "default_browser_type"}
            context = browser.new_context(**phone, locale="vi-VN", service_workers="block")
            page = context.new_page()
            figures["pwa.signin_js_gz_kb"] = round(
                _script_kb(page, f"{origin}/", "text=Đăng nhập bằng passkey"), 1
            )
            context.close()

            context = browser.new_context(**phone, locale="vi-VN", service_workers="block")
            context.add_cookies([{"name": k, "value": v, "url": origin} for k, v in cookies.items()])
            context.add_init_script(MARK_JS % DOCUMENTS)
            page = context.new_page()
            figures["pwa.inbox_js_gz_kb"] = round(
                _script_kb(page, f"{origin}/", "section[aria-labelledby='inbox-heading'] h3"), 1
            )
            figures["pwa.first_screen_js_gz_kb"] = max(
                figures["pwa.signin_js_gz_kb"], figures["pwa.inbox_js_gz_kb"]
            )

            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            for name, path, mark in (
                ("pwa.inbox500_render_ms", "/", "inbox"),
                ("pwa.class500_render_ms", f"/inbox/{class_id}", "list"),
            ):
                times = []
                for _ in range(ROUNDS):
                    page.goto(f"{origin}{path}")
                    page.wait_for_function(
                        f"() => window.__signetMarks && window.__signetMarks.{mark}", timeout=60_000
                    )
                    times.append(float(page.evaluate(f"() => window.__signetMarks.{mark}")))
                _log(f"{name}: {[round(t) for t in times]}")
                figures[name] = round(median(times), 1)
            browser.close()

        _log("lighthouse (mobile, performance) on the inbox…")
        score = _lighthouse(f"{origin}/", cookies)
        if score is not None:
            figures["pwa.lighthouse_perf"] = score
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    return figures
