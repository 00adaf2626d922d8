"""The engine's vocabulary that needs no PDF library: levels, material, reports.

Kept apart from ``pdf.py`` so that views, the CLI and tests can use these types without importing
pyHanko, and so that ``SigningMaterial`` from ``app.keys.service`` fits ``Material`` structurally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from app.keys.hsm import KeyAlgorithm

TsaClient = Callable[[bytes], bytes]
"""An RFC 3161 round trip: TimeStampReq DER in, TimeStampResp DER out."""


class Level(StrEnum):
    """PAdES baseline levels (ETSI EN 319 142-1)."""

    BB = "B-B"
    BT = "B-T"
    BLT = "B-LT"


class Material(Protocol):
    """What signing needs from a credential (``app.keys.service.SigningMaterial`` has it)."""

    @property
    def key_id(self) -> str: ...
    @property
    def algorithm(self) -> KeyAlgorithm: ...
    @property
    def certificate_der(self) -> bytes: ...
    @property
    def chain_der(self) -> tuple[bytes, ...]: ...


@dataclass(frozen=True)
class Revocation:
    """Validation data to embed for B-LT: trust anchors and CRLs (DER), no network fetching."""

    trust_roots: tuple[bytes, ...]
    crls: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class SignatureReport:
    field: str
    signer: str  # subject common name
    signing_time: datetime | None  # claimed by the signer (not trusted)
    timestamp_time: datetime | None  # from the TSA token, when present and valid
    level: str  # "B-B", "B-T", "B-LT" or "CMS" for a non-PAdES signature
    intact: bool  # the signed bytes are unchanged
    trusted: bool  # the signer's certificate chains to a configured trust root
    revocation_embedded: bool
    covers_whole_file: bool
    modified_after: str | None  # None, or what changed after this signature (e.g. "form filling")
    valid: bool  # intact, trusted, and nothing forbidden changed afterwards
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("signing_time", "timestamp_time"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        data["problems"] = list(self.problems)
        return data


@dataclass(frozen=True)
class VerificationReport:
    signatures: tuple[SignatureReport, ...]
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Every signature valid, and at least one; a PDF without signatures proves nothing."""
        return bool(self.signatures) and not self.problems and all(s.valid for s in self.signatures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "signatures": [s.to_dict() for s in self.signatures],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class PdfInfo:
    size: int
    pages: int
    version: str
    signature_count: int
    signature_fields: tuple[str, ...] = field(default_factory=tuple)
    certified: bool = False
