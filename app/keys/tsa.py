"""The development RFC 3161 time-stamping authority: its key in the HSM, its certificate from the dev CA.

A request is answered with a ``TimeStampResp``: ``granted`` with a CMS SignedData over a TSTInfo
(signed attributes content-type, message-digest, signing-time and signing-certificate-v2, as
ESS/RFC 5816 and PAdES verifiers expect), or ``rejection`` with the PKIFailureInfo bit saying why.
A malformed request is a rejection too, never an HTTP error: that is what RFC 3161 clients parse.
"""

from __future__ import annotations

import hashlib
import secrets

import structlog
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1x509

from app.db import utcnow
from app.keys import ca
from app.keys.hsm import HashAlgorithm, KeyInfo
from app.keys.models import Credential, CredentialStatus, OwnerKind, Purpose, SystemRole
from app.keys.provider import get_hsm
from app.keys.x509 import sign_with

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


def _grant(request: tsp.TimeStampReq) -> bytes:
    tsa = ensure_dev_tsa()
    assert tsa.certificate_der is not None
    cert = asn1x509.Certificate.load(tsa.certificate_der)
    now = utcnow().replace(microsecond=0)
    info: dict[str, object] = {
        "version": "v1",
        "policy": TSA_POLICY_OID,
        "message_imprint": request["message_imprint"],
        "serial_number": secrets.randbits(127) | 1,
        "gen_time": now,
        "accuracy": {"seconds": 1},
        "ordering": False,
        "tsa": asn1x509.GeneralName(name="directory_name", value=cert.subject),
    }
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"].native
    tst_info = tsp.TSTInfo(info)
    tst_der = tst_info.dump()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=now)]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(tsa.certificate_der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1x509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    attrs_der = signed_attrs.dump()  # the DER SET the signature covers (RFC 5652 5.4)
    sig_alg, signature = sign_with(get_hsm(), ca.key_of(tsa), attrs_der)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": cms.CMSAttributes.load(attrs_der),
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    content: dict[str, object] = {
        "version": "v3",  # RFC 5652 5.1: eContentType is not id-data
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
        "signer_infos": [signer_info],
    }
    cert_req = bool(request["cert_req"].native)
    if cert_req:  # RFC 3161 2.4.1: the TSA's certificate when asked for, and only then
        content["certificates"] = [cert]
    signed_data = cms.SignedData(content)
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    log.info("tsa_granted", serial=tst_info["serial_number"].native, cert_req=cert_req)
    return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
