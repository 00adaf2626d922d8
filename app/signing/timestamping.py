"""Where RFC 3161 timestamps come from: an HTTP TSA (``TSA_URL``) or the in-process dev TSA."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from urllib.parse import urlparse

from app.settings import Settings
from app.signing.errors import TimestampUnavailable
from app.signing.reports import TsaClient

_clients: dict[str, TsaClient] = {}


def http_tsa(url: str, *, timeout: float = 10.0) -> TsaClient:
    """A client POSTing ``application/timestamp-query`` to ``url``; one object per URL (it is a cache key)."""
    if urlparse(url).scheme not in {"http", "https"}:
        raise ValueError(f"TSA_URL must be http(s), not {url!r}")
    client = _clients.get(url)
    if client is None:

        def client(request_der: bytes) -> bytes:
            req = urllib.request.Request(  # noqa: S310 - scheme checked above
                url, data=request_der, headers={"Content-Type": "application/timestamp-query"}
            )
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                if resp.status != 200:
                    raise TimestampUnavailable()
                data: bytes = resp.read(1024 * 1024)
                return data

        _clients[url] = client
    return client


def tsa_for(settings: Settings, dev_respond: Callable[[bytes], bytes] | None = None) -> TsaClient | None:
    """``TSA_URL`` when set; otherwise the dev TSA outside production; otherwise none."""
    if settings.tsa_url:
        return http_tsa(settings.tsa_url)
    if not settings.is_prod and dev_respond is not None:
        return dev_respond
    return None
