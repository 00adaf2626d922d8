"""Settings: read once from the environment in ``create_app``, frozen afterwards.

Every secret may also be given as ``NAME_FILE`` (a path whose content is the secret), the way
container secrets are mounted.  In production (``SIGNET_ENV=prod``) placeholder or missing secrets
are refused at start-up rather than discovered later.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PLACEHOLDERS = {"", "change-me", "changeme", "secret", "dev", "development", "please-change"}
SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


def _default_module() -> str:
    for candidate in SOFTHSM_MODULE_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return SOFTHSM_MODULE_CANDIDATES[0]


def _secret(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """``NAME`` or the content of the file named by ``NAME_FILE``."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE points to {path!r}, which cannot be read: {exc}") from exc
    return env.get(name, default)


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    var_dir: Path = Path("var")
    secret_key: str = ""
    database_url: str = ""
    # HSM (PKCS#11)
    pkcs11_module: str = field(default_factory=_default_module)
    hsm_token_label: str = "signet-dev"  # noqa: S105 - a token label, not a secret
    hsm_user_pin: str | None = None
    # documents and signing
    max_pdf_bytes: int = 20 * 1024 * 1024
    tsa_url: str | None = None
    # the roots verification trusts besides the development CA (which production never trusts): the
    # certificates of ``TRUST_ROOTS_FILE``, a PEM bundle (or one DER certificate) of licensed CAs' roots
    trust_roots_der: tuple[bytes, ...] = ()
    public_base_url: str = "http://localhost:8000"
    rp_id: str = "localhost"
    rp_name: str = "Signet"
    # background work
    celery_broker_url: str = ""
    celery_result_backend: str | None = None
    celery_always_eager: bool = False
    celery_queue: str = "signet"
    ratelimit_storage_uri: str = "memory://"
    auth_rate_limit: str = "60/minute"  # per address and auth endpoint; "off" disables (benchmarks)
    # personal data at rest (CCCD); 32 url-safe base64 bytes (Fernet key)
    data_encryption_key: str = ""
    vapid_subject: str = "mailto:admin@localhost"
    webhook_retry_seconds: float = 10.0  # first retry of a failed webhook; doubles each time (max 1 h)
    log_json: bool = False
    log_level: str = "INFO"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"

    @property
    def softhsm_conf(self) -> Path:
        return self.var_dir / "softhsm" / "softhsm2.conf"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        mode = env.get("SIGNET_ENV", "dev").strip().lower()
        var_dir = Path(env.get("SIGNET_VAR_DIR", "var")).resolve()
        pin_file = var_dir / "softhsm" / "user.pin"
        pin = _secret(env, "HSM_USER_PIN")
        if pin is None and mode != "prod" and pin_file.exists():
            pin = pin_file.read_text(encoding="utf-8").strip()
        settings = cls(
            env=mode,
            var_dir=var_dir,
            secret_key=_secret(env, "SECRET_KEY") or _dev_secret(var_dir, "secret_key", mode),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'signet.db'}",
            pkcs11_module=env.get("PKCS11_MODULE") or _default_module(),
            hsm_token_label=env.get("HSM_TOKEN_LABEL", "signet-dev"),
            hsm_user_pin=pin,
            max_pdf_bytes=int(env.get("MAX_PDF_BYTES", str(20 * 1024 * 1024))),
            tsa_url=env.get("TSA_URL") or None,
            trust_roots_der=_certificates(env.get("TRUST_ROOTS_FILE")),
            public_base_url=env.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/"),
            rp_id=env.get("WEBAUTHN_RP_ID", "localhost"),
            rp_name=env.get("WEBAUTHN_RP_NAME", "Signet"),
            celery_broker_url=env.get("CELERY_BROKER_URL")
            or f"sqla+sqlite:///{var_dir / 'celery-broker.db'}",
            celery_result_backend=env.get("CELERY_RESULT_BACKEND") or None,
            celery_always_eager=_bool(env.get("CELERY_ALWAYS_EAGER"), False),
            celery_queue=env.get("CELERY_QUEUE", "signet"),
            ratelimit_storage_uri=env.get("RATELIMIT_STORAGE_URI", "memory://"),
            auth_rate_limit=env.get("AUTH_RATE_LIMIT", "60/minute"),
            data_encryption_key=_secret(env, "DATA_ENCRYPTION_KEY")
            or _dev_secret(var_dir, "data_encryption_key", mode, fernet=True),
            vapid_subject=env.get("VAPID_SUBJECT", "mailto:admin@localhost"),
            webhook_retry_seconds=float(env.get("WEBHOOK_RETRY_SECONDS", "10")),
            log_json=_bool(env.get("LOG_JSON"), mode == "prod"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )
        settings.check()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def check(self) -> None:
        if self.env not in {"dev", "test", "prod"}:
            raise SettingsError(f"SIGNET_ENV must be dev, test or prod, not {self.env!r}")
        if not self.is_prod:
            return
        for name, value in (
            ("SECRET_KEY", self.secret_key),
            ("DATA_ENCRYPTION_KEY", self.data_encryption_key),
            ("HSM_USER_PIN", self.hsm_user_pin or ""),
        ):
            if value.strip().lower() in PLACEHOLDERS or len(value) < 8:
                raise SettingsError(f"{name} is missing or a placeholder; production refuses to start")
        if self.database_url.startswith("sqlite"):
            raise SettingsError("DATABASE_URL must point to PostgreSQL in production")


def _certificates(path: str | None) -> tuple[bytes, ...]:
    """The DER of each certificate in the file at ``path`` (PEM, any number, or one DER)."""
    if not path:
        return ()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"TRUST_ROOTS_FILE points to {path!r}, which cannot be read: {exc}") from exc
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SettingsError(
            f"TRUST_ROOTS_FILE {path!r} holds no readable certificate (a PEM bundle or one DER certificate)"
        ) from exc
    return tuple(c.public_bytes(Encoding.DER) for c in certificates)


def _dev_secret(var_dir: Path, name: str, mode: str, *, fernet: bool = False) -> str:
    """Development secrets are generated once and kept under ``var/`` (never in prod)."""
    if mode == "prod":
        return ""
    path = var_dir / "secrets" / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    if fernet:
        import base64

        value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    else:
        value = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value)
    return value
