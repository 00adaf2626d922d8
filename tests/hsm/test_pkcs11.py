"""The PKCS#11 adapter against a real SoftHSM token: key generation, signing, errors, concurrency."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading

import pytest
from cryptography.exceptions import InvalidSignature

from app.errors import BadRequest
from app.keys.hsm import HashAlgorithm, HsmUnavailable, KeyAlgorithm, KeyInfo, KeyNotFound, SignScheme
from app.keys.pkcs11 import Pkcs11Hsm
from app.settings import Settings
from tests.hsm.verify import verify_digest_signature

pytestmark = pytest.mark.hsm


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_generated_keys_are_private_sensitive_and_never_extractable(
    hsm: Pkcs11Hsm, algorithm: KeyAlgorithm
) -> None:
    info = hsm.generate_keypair(algorithm=algorithm, label=f"gen-{algorithm.value}")
    try:
        assert len(bytes.fromhex(info.key_id)) == 16
        assert info.algorithm is algorithm
        attrs = hsm.attributes(info.key_id)
        assert attrs.private and attrs.sensitive and attrs.always_sensitive
        assert not attrs.extractable and attrs.never_extractable
        assert attrs.local, "the key must have been generated on the token"
        assert hsm.find(info.key_id) == info
        assert info.key_id in {k.key_id for k in hsm.list_keys()}
    finally:
        hsm.destroy(info.key_id)


@pytest.mark.parametrize("hash_algorithm", list(HashAlgorithm))
@pytest.mark.parametrize(
    ("algorithm", "scheme"),
    [
        (KeyAlgorithm.RSA2048, SignScheme.RSA_PKCS1V15),
        (KeyAlgorithm.RSA2048, SignScheme.RSA_PSS),
        (KeyAlgorithm.RSA3072, SignScheme.RSA_PKCS1V15),
        (KeyAlgorithm.RSA3072, SignScheme.RSA_PSS),
        (KeyAlgorithm.P256, SignScheme.ECDSA),
    ],
)
def test_signatures_verify_with_cryptography(
    hsm: Pkcs11Hsm,
    session_keys: dict[KeyAlgorithm, KeyInfo],
    algorithm: KeyAlgorithm,
    scheme: SignScheme,
    hash_algorithm: HashAlgorithm,
) -> None:
    key = session_keys[algorithm]
    digest = hashlib.new(hash_algorithm.value, b"hoc ba so " + scheme.value.encode()).digest()
    signature = hsm.sign_digest(
        key_id=key.key_id, digest=digest, hash_algorithm=hash_algorithm, scheme=scheme
    )
    verify_digest_signature(key.public_key_der, signature, digest, hash_algorithm, scheme)
    other = hashlib.new(hash_algorithm.value, b"another document").digest()
    with pytest.raises(InvalidSignature):
        verify_digest_signature(key.public_key_der, signature, other, hash_algorithm, scheme)


def test_default_scheme_and_batch_signing(hsm: Pkcs11Hsm, session_keys: dict[KeyAlgorithm, KeyInfo]) -> None:
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(5)]
    for algorithm in (KeyAlgorithm.RSA2048, KeyAlgorithm.P256):
        key = session_keys[algorithm]
        signatures = hsm.sign_digests(key_id=key.key_id, digests=digests)
        assert len(signatures) == len(digests)
        for digest, signature in zip(digests, signatures, strict=True):
            verify_digest_signature(key.public_key_der, signature, digest)


def test_wrong_digest_length_or_scheme_is_refused(
    hsm: Pkcs11Hsm, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    rsa_key, ec_key = session_keys[KeyAlgorithm.RSA2048], session_keys[KeyAlgorithm.P256]
    with pytest.raises(BadRequest):
        hsm.sign_digest(key_id=rsa_key.key_id, digest=b"\x00" * 20)
    with pytest.raises(BadRequest):
        hsm.sign_digest(key_id=ec_key.key_id, digest=b"\x00" * 32, scheme=SignScheme.RSA_PSS)
    with pytest.raises(BadRequest):
        hsm.sign_digest(key_id=rsa_key.key_id, digest=b"\x00" * 32, scheme=SignScheme.ECDSA)


def test_destroyed_key_is_gone(hsm: Pkcs11Hsm) -> None:
    info = hsm.generate_keypair(algorithm=KeyAlgorithm.P256, label="to-destroy")
    before = hsm.status().key_count
    hsm.destroy(info.key_id)
    assert hsm.status().key_count == before - 1
    with pytest.raises(KeyNotFound):
        hsm.find(info.key_id)
    with pytest.raises(KeyNotFound):
        hsm.sign_digest(key_id=info.key_id, digest=hashlib.sha256(b"x").digest())
    with pytest.raises(KeyNotFound):
        hsm.destroy(info.key_id)
    with pytest.raises(KeyNotFound):
        hsm.find("not-hex")


def test_key_destroyed_by_another_instance_is_not_found_from_a_cached_handle(
    settings: Settings, hsm: Pkcs11Hsm
) -> None:
    info = hsm.generate_keypair(algorithm=KeyAlgorithm.P256, label="stale")
    hsm.sign_digest(key_id=info.key_id, digest=hashlib.sha256(b"x").digest())  # handle now cached
    Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, settings.hsm_user_pin).destroy(info.key_id)
    with pytest.raises(KeyNotFound):
        hsm.sign_digest(key_id=info.key_id, digest=hashlib.sha256(b"x").digest())


def test_list_keys_from_a_fresh_session_finds_every_key(
    hsm: Pkcs11Hsm, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    hsm.close()  # no cached handles: every key is looked up while listing
    listed = {k.key_id: k for k in hsm.list_keys()}
    for key in session_keys.values():
        assert listed[key.key_id] == key
    assert len(listed) == hsm.status().key_count


def test_status_reports_the_token(hsm: Pkcs11Hsm, settings: Settings) -> None:
    status = hsm.status()
    assert status.token_label == settings.hsm_token_label
    assert "SoftHSM" in status.manufacturer + status.model
    assert status.key_count >= 0


def test_unknown_token_or_module_is_unavailable(settings: Settings) -> None:
    with pytest.raises(HsmUnavailable, match="no token with this label"):
        Pkcs11Hsm(settings.pkcs11_module, "no-such-token", "1234").status()
    with pytest.raises(HsmUnavailable, match="module cannot be loaded"):
        Pkcs11Hsm("/nonexistent/libpkcs11.so", settings.hsm_token_label, "1234").status()
    with pytest.raises(HsmUnavailable, match="no user PIN"):
        Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, None).status()


def test_wrong_pin_in_the_same_process_is_refused_without_echoing_it(
    hsm: Pkcs11Hsm, settings: Settings
) -> None:
    hsm.status()  # the process is logged in now
    wrong = "wrong-pin-31337"
    with pytest.raises(HsmUnavailable) as caught:
        Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, wrong).status()
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.to_dict())
    assert caught.value.http_status == 503
    assert settings.hsm_user_pin not in repr(hsm)


def _status_with_pin(module: str, label: str, pin: str) -> str:
    """Runs in a fresh process: the token itself must refuse the PIN."""
    try:
        Pkcs11Hsm(module, label, pin).status()
    except HsmUnavailable as exc:
        return f"{exc.code}|{exc.message}"
    return "ok"


def test_wrong_pin_is_refused_by_the_token(settings: Settings) -> None:
    wrong = "wrong-pin-4242"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        outcome = pool.apply(_status_with_pin, (settings.pkcs11_module, settings.hsm_token_label, wrong))
    assert outcome.startswith("hsm.unavailable|") and "PIN was refused" in outcome
    assert wrong not in outcome


def test_a_lost_session_is_reported_then_reopened(
    hsm: Pkcs11Hsm, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    key = session_keys[KeyAlgorithm.P256]
    digest = hashlib.sha256(b"x").digest()
    hsm.sign_digest(key_id=key.key_id, digest=digest)
    # fault injection: the session disappears behind the adapter's back (as when a token is pulled)
    raw_session = hsm._conn.session
    raw_session.close()
    with pytest.raises(HsmUnavailable, match="session was lost"):
        hsm.sign_digest(key_id=key.key_id, digest=digest)
    verify_digest_signature(key.public_key_der, hsm.sign_digest(key_id=key.key_id, digest=digest), digest)


def test_close_of_one_instance_does_not_break_another(
    hsm: Pkcs11Hsm, settings: Settings, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    key = session_keys[KeyAlgorithm.P256]
    digest = hashlib.sha256(b"y").digest()
    other = Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, settings.hsm_user_pin)
    hsm.sign_digest(key_id=key.key_id, digest=digest)
    other.close()
    verify_digest_signature(key.public_key_der, hsm.sign_digest(key_id=key.key_id, digest=digest), digest)


def test_eight_threads_share_one_session_safely(
    hsm: Pkcs11Hsm, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    key = session_keys[KeyAlgorithm.RSA2048]
    results: dict[int, list[tuple[bytes, bytes]]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            out = []
            for i in range(50):
                digest = hashlib.sha256(f"{n}-{i}".encode()).digest()
                out.append((digest, hsm.sign_digest(key_id=key.key_id, digest=digest)))
            results[n] = out
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(len(v) for v in results.values()) == 400
    for pairs in results.values():
        for digest, signature in pairs:
            verify_digest_signature(key.public_key_der, signature, digest)


def _sign_in_child(module: str, label: str, pin: str, key_id: str, n: int) -> tuple[int, list[bytes]]:
    hsm = Pkcs11Hsm(module, label, pin)
    digests = [hashlib.sha256(f"proc-{n}-{i}".encode()).digest() for i in range(20)]
    return os.getpid(), [hsm.sign_digest(key_id=key_id, digest=d) for d in digests]


def test_two_processes_each_with_their_own_session(
    settings: Settings, session_keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    key = session_keys[KeyAlgorithm.RSA2048]
    ctx = multiprocessing.get_context("spawn")
    args = [
        (settings.pkcs11_module, settings.hsm_token_label, settings.hsm_user_pin, key.key_id, n)
        for n in (0, 1)
    ]
    with ctx.Pool(2) as pool:
        outcomes = pool.starmap(_sign_in_child, args)
    assert len({pid for pid, _ in outcomes}) == 2
    for n, (_pid, signatures) in enumerate(outcomes):
        for i, signature in enumerate(signatures):
            digest = hashlib.sha256(f"proc-{n}-{i}".encode()).digest()
            verify_digest_signature(key.public_key_der, signature, digest)
