"""Independent checks with ``cryptography`` (never with the code under test)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key

from app.keys.hsm import HashAlgorithm, SignScheme

HASHES: dict[HashAlgorithm, type[hashes.HashAlgorithm]] = {
    HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA384: hashes.SHA384,
    HashAlgorithm.SHA512: hashes.SHA512,
}


def verify_digest_signature(
    spki_der: bytes,
    signature: bytes,
    digest: bytes,
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    scheme: SignScheme | None = None,
) -> None:
    """Raises ``InvalidSignature`` unless ``signature`` is valid over the precomputed ``digest``."""
    key = load_der_public_key(spki_der)
    chosen = utils.Prehashed(HASHES[hash_algorithm]())
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, digest, ec.ECDSA(chosen))
        return
    assert isinstance(key, rsa.RSAPublicKey)
    if scheme is SignScheme.RSA_PSS:
        pss = padding.PSS(mgf=padding.MGF1(HASHES[hash_algorithm]()), salt_length=hash_algorithm.digest_size)
        key.verify(signature, digest, pss, chosen)
    else:
        key.verify(signature, digest, padding.PKCS1v15(), chosen)
