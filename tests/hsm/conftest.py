"""Fixtures for tests that talk to the real SoftHSM token of the test session."""

from __future__ import annotations

import pytest

from app.keys.hsm import KeyAlgorithm, KeyInfo
from app.keys.pkcs11 import Pkcs11Hsm
from app.settings import Settings


@pytest.fixture
def hsm(settings: Settings) -> Pkcs11Hsm:
    return Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, settings.hsm_user_pin)


@pytest.fixture(scope="session")
def session_keys(base_settings: Settings) -> dict[KeyAlgorithm, KeyInfo]:
    """One key per algorithm for tests that only sign (RSA-3072 generation is slow)."""
    hsm = Pkcs11Hsm(base_settings.pkcs11_module, base_settings.hsm_token_label, base_settings.hsm_user_pin)
    return {alg: hsm.generate_keypair(algorithm=alg, label=f"test-{alg.value}") for alg in KeyAlgorithm}
