"""The development RFC 3161 time-stamping authority: its key in the HSM, its certificate from the dev CA.

A request is answered with a ``TimeStampResp``: ``granted`` with a CMS SignedData over a TSTInfo
(signed attributes content-type, message-digest, signing-time and signing-certificate-v2, as
ESS/RFC 5816 and PAdES verifiers expect), or ``rejection`` with the PKIFailureInfo bit saying why.
A malformed request is a rejection too, never an HTTP error: that is what RFC 3161 clients parse.

Every B-T signature asks for a token, so a token costs little more than its HSM signature: the
credential is looked up once per process (and database), the certificate-dependent DER is encoded
once (``TokenTemplate``), and each token encodes only its TSTInfo and signed attributes and splices
them into the pre-encoded CMS of ``app.signing.cms``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime

import structlog
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1x509

from app.db import Database, get_db, utcnow
from app.keys import ca
from app.keys.hsm import HashAlgorithm, KeyInfo
from app.keys.models import Credential, CredentialStatus, OwnerKind, Purpose, SystemRole
from app.keys.provider import get_hsm
from app.keys.x509 import sign_with
from app.signing.cms import CmsTemplate, Sign, attribute, attribute_set, message_digest_attribute, tlv

log = structlog.get_logger(__name__)

# A policy OID of our own without a registered arc: ITU-T X.667 UUID OID (2.25.<uuid as integer>)
TSA_POLICY_OID = "2.25.164105583732671402273116151945120065073"
TSA_COMMON_NAME = "Signet DEVELOPMENT TSA — NOT TRUSTED"
ACCEPTED_HASHES = {
    "sha256": HashAlgorithm.SHA256,
    "sha384": HashAlgorithm.SHA384,
    "sha512": HashAlgorithm.SHA512,
}


def _create_tsa(credential_id: str, key: KeyInfo) -> tuple[Credential, list[object]]:
    issued = ca.issue_certificate(
        key=key, profile=ca.Profile.TSA, common_name=TSA_COMMON_NAME, organisation=ca.DEV_CA_ORGANISATION
    )
    cert = asn1x509.Certificate.load(issued.certificate_der)
    credential = Credential(
        id=credential_id,
        owner_kind=OwnerKind.SERVICE,
        owner_name=TSA_COMMON_NAME,
        organisation=ca.DEV_CA_ORGANISATION,
        purpose=Purpose.TSA,
        algorithm=key.algorithm,
        hsm_key_id=key.key_id,
        system_role=SystemRole.DEV_TSA,
        status=CredentialStatus.ACTIVE,
        issued_by_dev_ca=True,
        certificate_der=issued.certificate_der,
        subject_dn=cert.subject.human_friendly,
        issuer_dn=cert.issuer.human_friendly,
        serial_hex=issued.serial_hex,
        not_before=cert.not_valid_before,
        not_after=issued.not_after,
    )
    credential.chain_der = issued.chain_der
    return credential, [issued.record(credential_id)]


def ensure_dev_tsa() -> Credential:
    return ca.ensure_system_credential(SystemRole.DEV_TSA, _create_tsa)


class TimeStampResp(core.Sequence):
    """RFC 3161 2.4.2, with the token OPTIONAL as the RFC has it (asn1crypto 1.5 makes it required)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _rejection(fail_info: str, text: str) -> bytes:
    log.info("tsa_rejected", fail_info=fail_info)
    status = {"status": "rejection", "status_string": [text], "fail_info": {fail_info}}
    return TimeStampResp({"status": status}).dump()


def respond(request_der: bytes) -> bytes:
    """Answer one DER ``TimeStampReq`` with a DER ``TimeStampResp``."""
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        _ = request.native  # asn1crypto parses lazily; fail here, not half-way through the answer
    except (ValueError, TypeError):
        return _rejection("bad_data_format", "The request is not a DER TimeStampReq.")
    if request["version"].native != "v1":
        return _rejection("bad_request", "Only version 1 requests are understood.")
    imprint = request["message_imprint"]
    hash_name = imprint["hash_algorithm"]["algorithm"].native
    hash_algorithm = ACCEPTED_HASHES.get(hash_name)
    if hash_algorithm is None:
        return _rejection("bad_alg", "Use SHA-256, SHA-384 or SHA-512 for the message imprint.")
    if len(imprint["hashed_message"].native) != hash_algorithm.digest_size:
        return _rejection("bad_data_format", "The message imprint has the wrong length for its algorithm.")
    policy = request["req_policy"].native
    if policy is not None and policy != TSA_POLICY_OID:
        return _rejection("unaccepted_policy", "This TSA only issues tokens under its own policy.")
    if request["extensions"].native:
        return _rejection("unaccepted_extensions", "This TSA accepts no request extensions.")
    return _grant(request)


# --------------------------------------------------------------------------- tokens from pre-encoded parts

_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()
_OID_TST_INFO = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
_CONTENT_TYPE_TST_INFO = attribute("content_type", cms.ContentType("tst_info"))
_TST_VERSION = core.Integer(1).dump()
_TST_POLICY = core.ObjectIdentifier(TSA_POLICY_OID).dump()
_TST_ACCURACY = tsp.Accuracy({"seconds": 1}).dump()  # ordering FALSE is the DEFAULT: not encoded


@dataclass(frozen=True)
class TokenTemplate:
    """Everything in a token that depends only on the TSA's key and certificate, DER-encoded once.

    Building each TimeStampResp with asn1crypto re-encoded the certificate and the ESS attribute
    for every token (≈ 100 ms); here only the TSTInfo and the signed attributes are encoded per
    token and the rest is spliced in by ``CmsTemplate`` (the PAdES signer's pre-encoded CMS).
    """

    key: KeyInfo
    cms: CmsTemplate  # signer id, signing-certificate-v2, signature algorithm, [0] certificates
    tsa_name: bytes  # TSTInfo.tsa: [0] EXPLICIT GeneralName directoryName (our subject)

    @classmethod
    def create(cls, certificate_der: bytes, key: KeyInfo) -> TokenTemplate:
        cert = asn1x509.Certificate.load(certificate_der)
        name = asn1x509.GeneralName(name="directory_name", value=cert.subject).dump()
        return cls(
            key=key,
            cms=CmsTemplate.create(certificate_der, (), key.algorithm),
            tsa_name=tlv(0xA0, name),
        )

    def tst_info(self, message_imprint: bytes, serial: int, gen_time: datetime, nonce: int | None) -> bytes:
        """TSTInfo (RFC 3161 2.4.2) DER; ``message_imprint`` is the request's, byte for byte."""
        return tlv(
            0x30,
            _TST_VERSION
            + _TST_POLICY
            + message_imprint
            + core.Integer(serial).dump()
            + core.GeneralizedTime(gen_time).dump()
            + _TST_ACCURACY
            + (core.Integer(nonce).dump() if nonce is not None else b"")
            + self.tsa_name,
        )

    def token(self, tst_info: bytes, signing_time: datetime, sign: Sign, *, certificates: bool) -> bytes:
        """The timeStampToken: ContentInfo(SignedData) over ``tst_info``, signed through ``sign``."""
        signed_attrs = attribute_set(
            _CONTENT_TYPE_TST_INFO,
            attribute("signing_time", cms.Time(name="utc_time", value=signing_time)),
            message_digest_attribute(hashlib.sha256(tst_info).digest()),
            self.cms.signing_certificate_attr,
        )
        return self.cms.signed_data(
            signed_attrs,
            sign(signed_attrs),
            content_type=_OID_TST_INFO,
            content=tst_info,
            certificates=certificates,
        )


def granted(token: bytes) -> bytes:
    """A DER TimeStampResp ``granted`` carrying ``token``."""
    return tlv(0x30, _GRANTED + token)


_lock = threading.Lock()
_templates: weakref.WeakKeyDictionary[Database, TokenTemplate] = weakref.WeakKeyDictionary()


def _template() -> TokenTemplate:
    """The TSA of this application's database, looked up (or created) once per process.

    The development TSA never changes once created (a system credential cannot be revoked or
    re-keyed); a different database (a test, a reset development setup) has its own, hence the key.
    """
    db = get_db()
    with _lock:
        found = _templates.get(db)
    if found is not None:
        return found
    credential = ensure_dev_tsa()
    assert credential.certificate_der is not None
    template = TokenTemplate.create(credential.certificate_der, ca.key_of(credential))
    with _lock:
        _templates[db] = template
    return template


def _grant(request: tsp.TimeStampReq) -> bytes:
    template = _template()
    hsm = get_hsm()
    now = utcnow().replace(microsecond=0)
    serial = secrets.randbits(127) | 1
    tst_info = template.tst_info(request["message_imprint"].dump(), serial, now, request["nonce"].native)

    def sign(data: bytes) -> bytes:
        return sign_with(hsm, template.key, data)[1]  # the algorithm is in the template already

    cert_req = bool(request["cert_req"].native)  # RFC 3161 2.4.1: our certificate when asked for, only then
    token = template.token(tst_info, now, sign, certificates=cert_req)
    log.info("tsa_granted", serial=serial, cert_req=cert_req)
    return granted(token)
