"""OpenAPI descriptions of the PKI endpoints (their bodies are DER, not JSON)."""

from __future__ import annotations

from typing import Any

ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def binary(media_type: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }


def der_responses(media_type: str, description: str) -> dict[str, Any]:
    return {
        "responses": {
            "200": binary(media_type, description),
            "403": {"description": "the development CA is disabled (production)", "content": ERROR_REF},
            "503": {"description": "the HSM is unavailable", "content": ERROR_REF},
        }
    }


TSA_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/timestamp-query": {"schema": {"type": "string", "format": "binary"}}},
    },
    **der_responses(
        "application/timestamp-reply",
        "a DER TimeStampResp: granted, or a rejection whose PKIFailureInfo says why",
    ),
}
TSA_DOC["responses"]["413"] = {
    "description": "the request is larger than a time-stamp query can be",
    "content": ERROR_REF,
}
TSA_DOC["responses"]["415"] = {
    "description": "the body is not application/timestamp-query",
    "content": ERROR_REF,
}
