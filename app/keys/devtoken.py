"""A SoftHSM token for development and tests, kept under ``var/softhsm``.

PINs are generated, written to files readable only by us, and never printed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path


class DevTokenError(RuntimeError):
    pass


def softhsm_conf_text(token_dir: Path) -> str:
    return f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value)


def ensure_dev_token(var_dir: Path, label: str) -> tuple[Path, bool]:
    """Create ``var_dir/softhsm`` with a token called ``label`` unless it exists.

    Returns (path of softhsm2.conf, whether a token was created).
    """
    if shutil.which("softhsm2-util") is None:
        raise DevTokenError("softhsm2-util is not installed (Debian package softhsm2)")
    base = var_dir / "softhsm"
    tokens = base / "tokens"
    conf = base / "softhsm2.conf"
    tokens.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    conf.write_text(softhsm_conf_text(tokens.resolve()), encoding="utf-8")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf.resolve())}
    listing = subprocess.run(
        ["softhsm2-util", "--show-slots"], env=env, capture_output=True, text=True, check=False
    ).stdout
    pin_file = base / "user.pin"
    if f"Label:            {label}" in listing or _has_label(listing, label):
        if not pin_file.exists():
            raise DevTokenError(f"token {label!r} exists but {pin_file} is missing")
        return conf, False
    user_pin = secrets.token_hex(8)
    so_pin = secrets.token_hex(8)
    _write_secret(pin_file, user_pin)
    _write_secret(base / "so.pin", so_pin)
    result = subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", user_pin, "--so-pin", so_pin],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevTokenError(f"softhsm2-util could not create the token: {result.stderr.strip()}")
    return conf, True


def _has_label(listing: str, label: str) -> bool:
    for line in listing.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Label" and value.strip() == label:
            return True
    return False
