"""WebAuthn ceremonies through py_webauthn: the only module that imports ``webauthn``.

Registration requires a discoverable (resident) credential and user verification; authentication is
usernameless (no allowCredentials) and requires user verification; py_webauthn refuses a sign counter
that does not move.  Every failure raises ``CeremonyFailed`` whose message is for the log only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.settings import Settings

TIMEOUT_MS = 5 * 60 * 1000


class CeremonyFailed(Exception):
    """The credential did not verify; the message says why (log and audit only, never the client)."""


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    backed_up: bool
    device_type: str
    aaguid: str


@dataclass(frozen=True)
class Assertion:
    credential_id: str  # base64url, as the client claims it
    user_handle: str | None  # base64url
    credential: AuthenticationCredential


def registration_options(
    settings: Settings,
    *,
    challenge: bytes,
    user_handle: str,
    username: str,
    display_name: str,
    exclude: list[str],
) -> dict[str, Any]:
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=settings.rp_name,
        user_id=base64url_to_bytes(user_handle),
        user_name=username,
        user_display_name=display_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in exclude],
    )
    return options_to_json_dict(options)


def authentication_options(settings: Settings, *, challenge: bytes) -> dict[str, Any]:
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=None,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def verify_registration(settings: Settings, credential: dict[str, Any], *, challenge: bytes) -> NewPasskey:
    try:
        parsed = parse_registration_credential_json(json.dumps(credential))
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.public_base_url,
            require_user_presence=True,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, InvalidCBORData, ValueError, KeyError) as exc:
        raise CeremonyFailed(f"registration: {type(exc).__name__}: {exc}") from exc
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        backed_up=bool(verified.credential_backed_up),
        device_type=str(getattr(verified.credential_device_type, "value", verified.credential_device_type)),
        aaguid=str(verified.aaguid),
    )


def parse_assertion(credential: dict[str, Any]) -> Assertion:
    try:
        parsed = parse_authentication_credential_json(json.dumps(credential))
    except (InvalidJSONStructure, InvalidCBORData, ValueError, KeyError) as exc:
        raise CeremonyFailed(f"assertion: {type(exc).__name__}: {exc}") from exc
    handle = parsed.response.user_handle
    return Assertion(
        credential_id=bytes_to_base64url(parsed.raw_id),
        user_handle=bytes_to_base64url(handle) if handle else None,
        credential=parsed,
    )


def verify_assertion(
    settings: Settings, assertion: Assertion, *, challenge: bytes, public_key: bytes, sign_count: int
) -> int:
    """Returns the new sign count."""
    try:
        verified = verify_authentication_response(
            credential=assertion.credential,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.public_base_url,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, InvalidCBORData, ValueError, KeyError) as exc:
        raise CeremonyFailed(f"assertion: {type(exc).__name__}: {exc}") from exc
    return int(verified.new_sign_count)
