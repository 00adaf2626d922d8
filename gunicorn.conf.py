"""gunicorn settings. The HSM is opened in each worker *after* fork (never in the master)."""

import os

bind = os.environ.get("SIGNET_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("SIGNET_THREADS", "4"))
worker_class = "gthread"
preload_app = False  # the app (and its PKCS#11 handle) is built in each worker
timeout = 120
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """Open and log in to the token in this worker so the first request does not pay for it."""
    from app.keys import provider
    from app.settings import Settings

    try:
        provider.hsm_for(Settings.from_env()).status()
    except Exception as exc:  # readiness reports it; the worker keeps serving /healthz
        server.log.warning("HSM not ready in worker %s: %s", worker.pid, type(exc).__name__)
