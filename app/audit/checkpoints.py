"""Checkpoints: the chain head, signed with the service's seal key and timestamped (RFC 3161).

The hash chain alone shows that records were edited, deleted or reordered; it cannot show that
someone with write access rewrote the whole chain after the change (recomputing every hash).  A
checkpoint can: it seals (seq, hash) of the head with a key that never leaves the HSM, and a
timestamp from the TSA says when.  ``verify_all`` walks the chain and every checkpoint.

The seal key is a credential of the service itself, created on first use.  Its signature is over the
checkpoint's canonical statement (JSON); the timestamp is over the SHA-256 of that signature, as a
CAdES signature timestamp is.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import structlog
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditCheckpoint, AuditHead
from app.audit.service import ChainBreak, verify_chain
from app.db import new_id, session, transaction, utcnow
from app.errors import DependencyUnavailable
from app.keys.hsm import HashAlgorithm
from app.keys.models import Credential, CredentialStatus, Purpose
from app.keys.provider import get_hsm
from app.settings import Settings
from app.signing.reports import TsaClient

log = structlog.get_logger(__name__)

AUDIT_SEAL_NAME = "Signet — audit seal"
STATEMENT_KIND = "signet.audit.checkpoint"
_DIGESTS = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


class CheckpointUnavailable(DependencyUnavailable):
    code = "audit.checkpoint_unavailable"
    default_message = "The audit checkpoint could not be sealed or timestamped; it will be retried."


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: str
    seq: int
    reason: str


@dataclass(frozen=True)
class AuditReport:
    """The chain walk and every checkpoint: ``first_break`` is the earliest problem by sequence number."""

    checked: int
    head_seq: int
    checkpoints: int
    chain_break: ChainBreak | None
    checkpoint_problems: tuple[CheckpointProblem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.checkpoint_problems

    @property
    def first_break(self) -> ChainBreak | CheckpointProblem | None:
        found: list[ChainBreak | CheckpointProblem] = list(self.checkpoint_problems)
        if self.chain_break is not None:
            found.append(self.chain_break)
        return min(found, key=lambda p: p.seq) if found else None


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


# --------------------------------------------------------------------------- the seal key


def _find_seal() -> Credential | None:
    query = (
        select(Credential)
        .where(
            Credential.purpose == Purpose.SEAL,
            Credential.tenant_id.is_(None),
            Credential.owner_name == AUDIT_SEAL_NAME,
            Credential.status.in_((CredentialStatus.ACTIVE, CredentialStatus.PENDING)),
        )
        .order_by(Credential.created_at, Credential.id)
    )
    return session().scalars(query).first()


def seal_credential() -> Credential:
    """The service's audit seal, created on first use (a key in the HSM; a dev-CA certificate outside
    production, a CSR for a licensed CA in production — the key signs checkpoints either way)."""
    found = _find_seal()
    if found is not None:
        return found
    from app.keys.service import create_credential

    create_credential(
        owner_kind="organisation",  # keys.service: a seal belongs to an organisation — here, Signet itself
        owner_name=AUDIT_SEAL_NAME,
        organisation="Signet",
        purpose="seal",
        use_dev_ca=not _settings().is_prod,
    )
    created = _find_seal()  # two processes racing both create one; everyone uses the oldest
    assert created is not None
    log.info("audit_seal_created", credential_id=created.id)
    return created


# --------------------------------------------------------------------------- creating a checkpoint


def statement_bytes(*, seq: int, head_hash: str, created_at: datetime, credential_id: str) -> str:
    body = {
        "kind": STATEMENT_KIND,
        "version": 1,
        "seq": seq,
        "hash": head_hash,
        "created_at": created_at.isoformat(timespec="microseconds"),
        "credential_id": credential_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _tsa_client() -> TsaClient | None:
    from app.keys.service import tsa_respond
    from app.signing.timestamping import tsa_for

    return tsa_for(_settings(), dev_respond=tsa_respond)


def _timestamp(signature: bytes) -> tuple[bytes, datetime] | None:
    client = _tsa_client()
    if client is None:
        return None
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(signature).digest(),
            },
            "nonce": secrets.randbits(63),
            "cert_req": True,
        }
    )
    try:
        response = tsp.TimeStampResp.load(client(request.dump()))
        if response["status"]["status"].native not in ("granted", "granted_with_mods"):
            raise CheckpointUnavailable("The time-stamping service refused the checkpoint.")
        token = response["time_stamp_token"]
        gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
        return token.dump(), gen_time
    except CheckpointUnavailable:
        raise
    except Exception as exc:
        log.warning("audit_checkpoint_tsa_failed", error=type(exc).__name__)
        raise CheckpointUnavailable() from exc


def create_checkpoint() -> AuditCheckpoint | None:
    """Seal the current chain head.  None when nothing was added since the last checkpoint."""
    s = session()
    head = s.get(AuditHead, 1)
    if head is None or head.seq == 0:
        return None
    seq, head_hash = head.seq, head.hash
    last = s.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq.desc()).limit(1))
    if last is not None and last >= seq:
        return None
    credential = seal_credential()
    s.rollback()  # end the read transaction before the slow HSM and TSA calls
    created_at = utcnow()
    statement = statement_bytes(
        seq=seq, head_hash=head_hash, created_at=created_at, credential_id=credential.id
    )
    signature = get_hsm().sign_digest(
        key_id=credential.hsm_key_id,
        digest=hashlib.sha256(statement.encode()).digest(),
        hash_algorithm=HashAlgorithm.SHA256,
    )
    stamped = _timestamp(signature)
    checkpoint = AuditCheckpoint(
        id=new_id(),
        seq=seq,
        head_hash=head_hash,
        created_at=created_at,
        credential_id=credential.id,
        statement=statement,
        signature=signature,
        timestamp_token=stamped[0] if stamped else None,
        timestamp_time=stamped[1] if stamped else None,
    )
    with transaction() as tx:
        tx.add(checkpoint)
    log.info("audit_checkpoint_created", seq=seq, timestamped=stamped is not None)
    return checkpoint


# --------------------------------------------------------------------------- verifying


def _verify_signature(public_key_der: bytes, signature: bytes, data: bytes) -> None:
    """Raises ``InvalidSignature`` (or ValueError) when ``signature`` is not the key's over ``data``."""
    key = load_der_public_key(public_key_der)
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        raise ValueError("unsupported key type")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_timestamp(token_der: bytes, *, imprint: bytes, trust_roots: list[bytes]) -> tuple[datetime, bool]:
    """Check an RFC 3161 token over ``imprint`` (SHA-256): (time, whether its TSA chains to a root).

    Raises ``ValueError`` when the token is not over ``imprint`` or its signature does not verify.
    """
    info = cms.ContentInfo.load(token_der)
    signed = info["content"]
    encap = signed["encap_content_info"]
    tst = encap["content"].parsed
    if tst["message_imprint"]["hash_algorithm"]["algorithm"].native != "sha256":
        raise ValueError("the timestamp's imprint is not SHA-256")
    if tst["message_imprint"]["hashed_message"].native != imprint:
        raise ValueError("the timestamp is over something else")
    (signer,) = signed["signer_infos"]
    certs = [c.chosen for c in signed["certificates"] if isinstance(c.chosen, asn1x509.Certificate)]
    sid = signer["sid"].chosen
    tsa_cert = next(
        (c for c in certs if c.issuer == sid["issuer"] and c.serial_number == sid["serial_number"].native),
        None,
    )
    if tsa_cert is None:
        raise ValueError("the timestamp does not carry its TSA certificate")
    digest_name = signer["digest_algorithm"]["algorithm"].native
    attrs = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
    if attrs.get("message_digest") != hashlib.new(digest_name, encap["content"].contents).digest():
        raise ValueError("the timestamp's content does not match its signature")
    signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]  # the DER SET the TSA signed
    cert = x509.load_der_x509_certificate(tsa_cert.dump())
    key = cert.public_key()
    value = signer["signature"].native
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(value, signed_bytes, padding.PKCS1v15(), _DIGESTS[digest_name])
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(value, signed_bytes, ec.ECDSA(_DIGESTS[digest_name]))
    else:
        raise ValueError("unsupported TSA key type")
    when: datetime = tst["gen_time"].native
    roots = [x509.load_der_x509_certificate(der) for der in trust_roots]
    others = [x509.load_der_x509_certificate(c.dump()) for c in certs if c is not tsa_cert]
    trusted, current = False, cert
    for _ in range(5):  # a short walk up the chain: the TSA, maybe an intermediate, a root
        if not current.not_valid_before_utc <= when <= current.not_valid_after_utc:
            break
        root = next((r for r in roots if _issued_by(current, r)), None)
        if root is not None:
            trusted = root.not_valid_before_utc <= when <= root.not_valid_after_utc
            break
        parent = next((o for o in others if o != current and _issued_by(current, o)), None)
        if parent is None:
            break
        current = parent
    return when, trusted


def _check(checkpoint: AuditCheckpoint, trust_roots: list[bytes]) -> tuple[str | None, str | None]:
    """(problem, warning) for one checkpoint, without the chain: statement, signature, timestamp."""
    expected = statement_bytes(
        seq=checkpoint.seq,
        head_hash=checkpoint.head_hash,
        created_at=checkpoint.created_at,
        credential_id=checkpoint.credential_id,
    )
    if not secrets.compare_digest(expected.encode(), checkpoint.statement.encode()):
        return "the checkpoint's fields differ from the statement it signed", None
    credential = session().get(Credential, checkpoint.credential_id)
    if credential is None:
        return "the checkpoint names a seal credential that does not exist", None
    try:
        public_key = get_hsm().find(credential.hsm_key_id).public_key_der
        _verify_signature(public_key, checkpoint.signature, checkpoint.statement.encode())
    except (InvalidSignature, ValueError):
        return "the checkpoint's seal signature does not verify", None
    if checkpoint.timestamp_token is None:
        return None, f"checkpoint at #{checkpoint.seq} has no timestamp"
    try:
        when, trusted = verify_timestamp(
            checkpoint.timestamp_token,
            imprint=hashlib.sha256(checkpoint.signature).digest(),
            trust_roots=trust_roots,
        )
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return "the checkpoint's timestamp does not verify", None
    if checkpoint.timestamp_time is not None and when != checkpoint.timestamp_time:
        return "the checkpoint's timestamp time was changed", None
    if not trusted:
        return None, f"the timestamp of checkpoint #{checkpoint.seq} does not chain to a trusted root"
    return None, None


def verify_all() -> AuditReport:
    """Walk the chain and every checkpoint; the earliest problem (by seq) is the first break."""
    from app.keys.service import trust_roots

    s = session()
    checkpoints = list(s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    chain = verify_chain(s, capture={c.seq for c in checkpoints})
    roots = trust_roots()
    problems: list[CheckpointProblem] = []
    warnings: list[str] = []
    previous = 0
    for checkpoint in checkpoints:
        problem, warning = _check(checkpoint, roots)
        if problem is None:
            found = chain.hashes.get(checkpoint.seq)
            if found is None and chain.ok:  # (past a chain break, the break is the finding)
                problem = f"the chain ends before record #{checkpoint.seq}, which this checkpoint sealed"
            elif found is not None and found != checkpoint.head_hash:
                problem = (
                    f"the chain was rewritten: record #{checkpoint.seq} differs from the checkpoint "
                    f"(a record after #{previous} was changed and every hash recomputed)"
                )
        if problem is not None:
            problems.append(CheckpointProblem(checkpoint.id, checkpoint.seq, problem))
        if warning is not None:
            warnings.append(warning)
        previous = checkpoint.seq
    return AuditReport(
        checked=chain.checked,
        head_seq=chain.head_seq,
        checkpoints=len(checkpoints),
        chain_break=chain.first_break,
        checkpoint_problems=tuple(problems),
        warnings=tuple(warnings),
    )
