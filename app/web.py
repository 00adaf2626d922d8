"""Serves the built PWA (``frontend/dist``) and sets the security headers on every response."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, request, send_from_directory

from app.settings import Settings

FRONTEND_DIST = Path(__file__).resolve().parent.parent / "frontend" / "dist"
API_PREFIXES = ("api/", "csc/", "healthz", "readyz")
STATIC_DIRS = ("assets/", "icons/", "vendor/")
STATIC_SUFFIXES = {".js", ".css", ".map", ".png", ".svg", ".ico", ".webmanifest", ".json", ".txt"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# ReDoc (/api/docs) builds its search index in a worker made from a blob: URL; only that page allows it.
DOCS_CSP = CSP.replace("worker-src 'self'", "worker-src 'self' blob:")
DOCS_PATH = "/api/docs"


def _cache_control(path: str) -> str:
    """Hashed build output is immutable; the service worker, its registration and the manifest are
    revalidated on every load so an update reaches phones at once; the rest may be a day old."""
    name = Path(path).name
    if path.startswith("assets/") or (name.startswith("workbox-") and name.endswith(".js")):
        return "public, max-age=31536000, immutable"
    if name in {"sw.js", "push-sw.js", "registerSW.js", "manifest.webmanifest", "index.html"}:
        return "no-cache"
    return "public, max-age=86400"


def _is_static(path: str) -> bool:
    """Build output, as opposed to an app route (whose last segment may contain a dot: a token)."""
    return path.startswith(STATIC_DIRS) or ("/" not in path and Path(path).suffix in STATIC_SUFFIXES)


def init_app(app: Flask, settings: Settings) -> None:
    dist = Path(app.config.get("FRONTEND_DIST", FRONTEND_DIST))

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def pwa(path: str) -> Response:
        if path.startswith(API_PREFIXES):
            abort(404)
        if not (dist / "index.html").exists():
            return Response(
                "<!doctype html><meta charset=utf-8><title>Signet</title>"
                "<p>Signet API is running. The PWA has not been built: run <code>make run</code>.</p>",
                mimetype="text/html",
            )
        candidate = (dist / path).resolve()
        if path and candidate.is_file() and dist.resolve() in candidate.parents:
            response = send_from_directory(dist, path)
            response.headers["Cache-Control"] = _cache_control(path)
            return response
        if _is_static(path):  # a missing file (an old hashed asset): never answer JS or CSS with HTML
            abort(404)
        response = send_from_directory(dist, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", DOCS_CSP if request.path == DOCS_PATH else CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith("/api/"):  # personal and changing: no shared or browser caching
            headers.setdefault("Cache-Control", "no-store")
        if settings.is_prod:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
