"""``MemoryHsm`` behaves like the PKCS#11 adapter (same formats, same refusals) without a token."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature

from app.errors import BadRequest
from app.keys.hsm import HashAlgorithm, Hsm, KeyAlgorithm, KeyNotFound, SignScheme
from app.keys.memory import MemoryHsm
from tests.hsm.verify import verify_digest_signature


@pytest.mark.parametrize(
    ("algorithm", "scheme", "hash_algorithm"),
    [
        (KeyAlgorithm.RSA2048, None, HashAlgorithm.SHA256),
        (KeyAlgorithm.RSA2048, SignScheme.RSA_PSS, HashAlgorithm.SHA384),
        (KeyAlgorithm.P256, None, HashAlgorithm.SHA256),
        (KeyAlgorithm.P256, SignScheme.ECDSA, HashAlgorithm.SHA512),
    ],
)
def test_signatures_verify(
    algorithm: KeyAlgorithm, scheme: SignScheme | None, hash_algorithm: HashAlgorithm
) -> None:
    hsm: Hsm = MemoryHsm()
    key = hsm.generate_keypair(algorithm=algorithm, label="unit")
    digests = [hashlib.new(hash_algorithm.value, bytes([i])).digest() for i in range(3)]
    signatures = hsm.sign_digests(
        key_id=key.key_id, digests=digests, hash_algorithm=hash_algorithm, scheme=scheme
    )
    for digest, signature in zip(digests, signatures, strict=True):
        verify_digest_signature(key.public_key_der, signature, digest, hash_algorithm, scheme)
    with pytest.raises(InvalidSignature):
        verify_digest_signature(key.public_key_der, signatures[0], digests[1], hash_algorithm, scheme)


def test_refusals_match_the_adapter() -> None:
    hsm = MemoryHsm()
    key = hsm.generate_keypair(algorithm=KeyAlgorithm.P256, label="unit")
    with pytest.raises(BadRequest):
        hsm.sign_digest(key_id=key.key_id, digest=b"short")
    with pytest.raises(BadRequest):
        hsm.sign_digest(key_id=key.key_id, digest=bytes(32), scheme=SignScheme.RSA_PSS)
    assert hsm.status().key_count == 1 and hsm.list_keys() == [key]
    hsm.destroy(key.key_id)
    with pytest.raises(KeyNotFound):
        hsm.find(key.key_id)
    with pytest.raises(KeyNotFound):
        hsm.destroy(key.key_id)
