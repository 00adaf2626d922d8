"""A test-only WSGI app: the real application plus ``POST /_test/sign`` running the real engine.

Served by gunicorn in ``test_concurrency_gunicorn.py`` (never part of the product).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, request

from app import create_app

bp = Blueprint("concurrency_test", __name__)


@bp.post("/_test/sign")
def sign() -> Response:
    from app.keys import service
    from app.keys.provider import get_hsm
    from app.signing.pdf import sign_pdf
    from app.signing.reports import Level
    from app.signing.stamps import Stamp, placement_for

    credential_id = request.args["credential"]
    step = int(request.args.get("step", "0"))
    material = service.signing_material(credential_id)
    signed = sign_pdf(
        request.get_data(),
        material=material,
        hsm=get_hsm(),
        level=Level(request.args.get("level", "B-T")),
        tsa=service.tsa_respond,
        stamp=Stamp(request.args.get("name", "?"), "GIÁO VIÊN", date(2024, 8, 12)),
        placement=placement_for("transcript", step),
    )
    return Response(signed, mimetype="application/pdf")


app = create_app()
app.register_blueprint(bp)
