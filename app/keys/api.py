"""PKI endpoints of the development CA and TSA: certificate, CRL, RFC 3161 time stamps.

Public and unauthenticated on purpose: verifiers (pdfsig, Acrobat, pyHanko) fetch the CRL and the
issuer certificate from the URLs written into our certificates, and PDF signers post time-stamp
queries.  Production disables them (403 ``pki.dev_ca_disabled``).
"""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import AppError
from app.keys import schemas, service

blp = Blueprint("pki", __name__, url_prefix="/api/v1/pki", description="Development CA and TSA")

MAX_TSA_QUERY_BYTES = 64 * 1024


class UnsupportedMediaType(AppError):
    code = "request.unsupported_media_type"
    http_status = 415
    default_message = "Send the time-stamp query as application/timestamp-query."


class QueryTooLarge(AppError):
    code = "request.too_large"
    http_status = 413
    default_message = "A time-stamp query is a few hundred bytes; this one is too large."


@blp.route("/dev-ca.crt")
class DevCaCertificate(MethodView):
    @blp.doc(**schemas.der_responses("application/pkix-cert", "the development CA certificate (DER)"))
    def get(self) -> Response:
        """The development CA's certificate (NOT TRUSTED outside development)."""
        return Response(service.dev_ca_certificate_der(), mimetype="application/pkix-cert")


@blp.route("/dev-ca.crl")
class DevCaCrl(MethodView):
    @blp.doc(**schemas.der_responses("application/pkix-crl", "the current CRL of the development CA (DER)"))
    def get(self) -> Response:
        """The development CA's certificate revocation list."""
        return Response(service.dev_ca_crl_der(), mimetype="application/pkix-crl")


@blp.route("/tsa")
class TimeStamp(MethodView):
    @blp.doc(**schemas.TSA_DOC)
    def post(self) -> Response:
        """RFC 3161 time-stamp protocol over HTTP."""
        if request.mimetype != "application/timestamp-query":
            raise UnsupportedMediaType()
        if (request.content_length or 0) > MAX_TSA_QUERY_BYTES:
            raise QueryTooLarge()
        body = request.get_data(cache=False)
        if len(body) > MAX_TSA_QUERY_BYTES:
            raise QueryTooLarge()
        return Response(service.tsa_respond(body), mimetype="application/timestamp-reply")
