"""Which ``Hsm`` this process talks to.

One logged-in PKCS#11 session per process (python-pkcs11 logs the whole process out when a session
closes, and a second login raises), so the adapter is cached per process and per token, and opened
lazily *after* fork: gunicorn's ``post_fork`` and Celery's ``worker_process_init`` warm it up; a
forked child never reuses its parent's handle.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

from flask import Flask, current_app

from app.keys.hsm import Hsm
from app.settings import Settings

HsmFactory = Callable[[Settings], Hsm]

_lock = threading.Lock()
_instances: dict[tuple[int, str, str], Hsm] = {}


def pkcs11_factory(settings: Settings) -> Hsm:
    from app.keys.pkcs11 import Pkcs11Hsm  # the only place the adapter is chosen

    # SoftHSM reads its configuration when the module is first loaded: point it at our token dir
    if "SOFTHSM2_CONF" not in os.environ and settings.softhsm_conf.exists():
        os.environ["SOFTHSM2_CONF"] = str(settings.softhsm_conf)

    return Pkcs11Hsm(
        module_path=settings.pkcs11_module,
        token_label=settings.hsm_token_label,
        user_pin=settings.hsm_user_pin,
    )


def hsm_for(settings: Settings, factory: HsmFactory = pkcs11_factory) -> Hsm:
    key = (os.getpid(), settings.pkcs11_module, settings.hsm_token_label)
    with _lock:
        hsm = _instances.get(key)
        if hsm is None:
            # drop handles inherited from a parent process: they are not ours to close
            for stale in [k for k in _instances if k[0] != key[0]]:
                _instances.pop(stale, None)
            hsm = factory(settings)
            _instances[key] = hsm
        return hsm


def reset() -> None:
    """Forget every cached adapter of this process (tests, token re-initialisation)."""
    with _lock:
        for k, hsm in list(_instances.items()):
            if k[0] == os.getpid():
                with contextlib.suppress(Exception):  # a dead session must not mask the caller's error
                    hsm.close()
        _instances.clear()


def init_app(app: Flask, settings: Settings, factory: HsmFactory | None = None) -> None:
    app.extensions["signet.hsm_factory"] = factory or pkcs11_factory


def get_hsm() -> Hsm:
    settings: Settings = current_app.extensions["signet.settings"]
    factory: HsmFactory = current_app.extensions["signet.hsm_factory"]
    return hsm_for(settings, factory)
