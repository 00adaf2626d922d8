"""CSC request and response bodies (v1.0.4 names and v2 names side by side).

Request schemas ignore unknown fields (``EXCLUDE``), unlike the rest of the API: the CSC specification
lets clients send optional parameters (``clientData``, ``lang``, ``profile``, ``operationMode``...)
that a server may not implement, and real clients do send them.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate


class _CscRequest(Schema):
    class Meta:
        unknown = EXCLUDE


class CscInfoSchema(Schema):
    specs = fields.String(required=True)
    name = fields.String(required=True)
    logo = fields.String()
    region = fields.String()
    lang = fields.String()
    description = fields.String()
    authType = fields.List(fields.String())
    oauth2 = fields.String()
    methods = fields.List(fields.String())


class CscTokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"example": "client_credentials"})
    client_id = fields.String()
    client_secret = fields.String()


class CscTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String()
    expires_in = fields.Integer()


class CscListRequestSchema(_CscRequest):
    userID = fields.String(allow_none=True)
    maxResults = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10000))


class CscListSchema(Schema):
    credentialIDs = fields.List(fields.String(), required=True)


class CscInfoRequestSchema(_CscRequest):
    credentialID = fields.String(required=True)
    certificates = fields.String(load_default="single", validate=validate.OneOf(["none", "single", "chain"]))
    certInfo = fields.Boolean(load_default=False)
    authInfo = fields.Boolean(load_default=False)


class CscKeySchema(Schema):
    status = fields.String()
    algo = fields.List(fields.String(), metadata={"description": "signature algorithm OIDs"})
    len = fields.Integer()
    curve = fields.String()


class CscCertSchema(Schema):
    status = fields.String()
    certificates = fields.List(fields.String(), metadata={"description": "base64 DER, the signer's first"})
    issuerDN = fields.String(allow_none=True)
    subjectDN = fields.String(allow_none=True)
    serialNumber = fields.String(allow_none=True)
    validFrom = fields.String(allow_none=True)
    validTo = fields.String(allow_none=True)


class CscCredentialInfoSchema(Schema):
    description = fields.String()
    key = fields.Nested(CscKeySchema)
    cert = fields.Nested(CscCertSchema)
    authMode = fields.String()
    SCAL = fields.String()
    multisign = fields.Integer()
    lang = fields.String()


class CscAuthorizeRequestSchema(_CscRequest):
    credentialID = fields.String(required=True)
    numSignatures = fields.Integer(allow_none=True)
    hash = fields.List(fields.String(), allow_none=True, metadata={"description": "v1: base64 hashes"})
    hashes = fields.List(fields.String(), allow_none=True, metadata={"description": "v2: base64 hashes"})
    hashAlgo = fields.String(allow_none=True)
    hashAlgorithmOID = fields.String(allow_none=True)
    PIN = fields.String(
        allow_none=True, metadata={"description": "ignored: the signer approves on the phone"}
    )
    OTP = fields.String(
        allow_none=True, metadata={"description": "ignored: the signer approves on the phone"}
    )
    authData = fields.List(fields.Dict(), allow_none=True)
    description = fields.String(allow_none=True)
    clientData = fields.String(allow_none=True)


class CscSadSchema(Schema):
    SAD = fields.String(metadata={"description": "single-use activation data (v1, or v2 once approved)"})
    expiresIn = fields.Integer()
    handle = fields.String(metadata={"description": "v2: poll credentials/authorizeCheck with it"})


class CscAuthorizeCheckRequestSchema(_CscRequest):
    handle = fields.String(required=True)
    credentialID = fields.String(allow_none=True)


class CscExtendRequestSchema(_CscRequest):
    credentialID = fields.String(required=True)
    SAD = fields.String(required=True)
    hash = fields.List(fields.String(), allow_none=True)
    hashes = fields.List(fields.String(), allow_none=True)


class CscSignHashRequestSchema(_CscRequest):
    credentialID = fields.String(required=True)
    SAD = fields.String(required=True)
    hash = fields.List(fields.String(), allow_none=True)
    hashes = fields.List(fields.String(), allow_none=True)
    hashAlgo = fields.String(allow_none=True)
    hashAlgorithmOID = fields.String(allow_none=True)
    signAlgo = fields.String(required=True)
    signAlgoParams = fields.String(allow_none=True)


class CscSignaturesSchema(Schema):
    signatures = fields.List(
        fields.String(), required=True, metadata={"description": "base64, in hash order"}
    )


class CscTimestampRequestSchema(_CscRequest):
    hash = fields.String(required=True)
    hashAlgo = fields.String(allow_none=True)
    hashAlgorithmOID = fields.String(allow_none=True)
    nonce = fields.String(allow_none=True)


class CscTimestampSchema(Schema):
    timestamp = fields.String(required=True, metadata={"description": "base64 DER TimeStampToken"})


class CscErrorSchema(Schema):
    error = fields.String(required=True, metadata={"example": "invalid_request"})
    error_description = fields.String(metadata={"example": "Invalid parameter SAD"})


# ---------------------------------------------------------------------------------- the PWA side


class CscApprovalReadSchema(Schema):
    id = fields.String()
    status = fields.String()
    credential_id = fields.String()
    credential_kind = fields.String()
    credential_name = fields.String(allow_none=True)
    api_client_id = fields.String()
    description = fields.String(allow_none=True)
    num_signatures = fields.Integer()
    hash_algorithm = fields.String()
    hashes = fields.List(fields.String())
    manifest_hash = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()


class CscApprovalDecisionSchema(Schema):
    class Meta:
        unknown = RAISE

    credential = fields.Dict(required=True, metadata={"description": "PublicKeyCredential.toJSON()"})


class CscApprovalOptionsSchema(Schema):
    publicKey = fields.Dict(required=True)
