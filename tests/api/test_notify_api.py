"""Push opt-in and inbox notices through the API, as the PWA uses them."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient

from app.db import transaction
from app.notify import service
from tests.support.factories import make_person, make_school, sign_in


def _keys() -> dict[str, str]:
    raw = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "p256dh": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        "auth": base64.urlsafe_b64encode(b"0123456789abcdef").rstrip(b"=").decode(),
    }


def test_vapid_key_is_a_p256_point(client: FlaskClient) -> None:
    key = client.get("/api/v1/push/vapid-key").get_json()["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4


def test_subscribing_needs_a_session(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/push/subscriptions", json={"endpoint": "https://push.example.com/x", "keys": _keys()}
    )
    assert response.status_code == 401


def test_subscribe_list_read_unsubscribe(app: Flask) -> None:
    school = make_school()
    teacher = sign_in(app, make_person(school))
    body = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": _keys(), "lang": "vi"}
    assert teacher.post("/api/v1/push/subscriptions", json=body).status_code == 201
    with transaction() as s:
        notice = service.notify(
            s,
            person_id=teacher.person.id,
            tenant_id=school.id,
            kind="work_waiting",
            dedupe_key="k",
            count=4,
            subject="2B",
        )
    listed = teacher.get("/api/v1/notices?unread=true").get_json()
    assert [(n["kind"], n["count"], n["subject"]) for n in listed] == [("work_waiting", 4, "2B")]
    assert teacher.post(f"/api/v1/notices/{notice.id}/read").status_code == 204
    assert teacher.get("/api/v1/notices?unread=true").get_json() == []
    delete = teacher.delete("/api/v1/push/subscriptions", json={"endpoint": body["endpoint"]})
    assert delete.status_code == 204


def test_another_persons_notice_is_not_found(app: Flask) -> None:
    school = make_school()
    owner = make_person(school)
    intruder = sign_in(app, make_person(make_school()))
    with transaction() as s:
        notice = service.notify(
            s, person_id=owner.id, tenant_id=school.id, kind="work_waiting", dedupe_key="k", count=1
        )
    assert intruder.post(f"/api/v1/notices/{notice.id}/read").status_code == 404


def test_private_push_endpoint_is_refused_with_its_code(app: Flask) -> None:
    teacher = sign_in(app, make_person(make_school()))
    response = teacher.post(
        "/api/v1/push/subscriptions", json={"endpoint": "https://192.168.1.10/push", "keys": _keys()}
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "notify.invalid_subscription"
