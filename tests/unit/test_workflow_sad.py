"""The manifest hash and the SAD binding: any change to what was approved breaks the MAC."""

from __future__ import annotations

from app.workflow import sad

SECRET = "s" * 48
MANIFEST = {"items": [{"document_id": "A", "sha256": "a" * 64}, {"document_id": "B", "sha256": "b" * 64}]}


def _bound(**changes: object) -> bytes:
    args: dict[str, object] = {
        "approval_id": "ap1",
        "manifest_hex": sad.manifest_hash(MANIFEST),
        "person_id": "p1",
        "credential_ids": ["c1"],
    }
    args.update(changes)
    return sad.binding(**args)  # type: ignore[arg-type]


def test_canonical_json_is_order_independent() -> None:
    assert sad.canonical({"b": 1, "a": "Việt"}) == sad.canonical({"a": "Việt", "b": 1})
    assert sad.canonical({"a": "Việt"}) == '{"a":"Việt"}'.encode()


def test_challenge_depends_on_manifest_and_nonce() -> None:
    h = sad.manifest_hash(MANIFEST)
    n1, n2 = sad.new_nonce(), sad.new_nonce()
    assert sad.challenge_for(h, n1) != sad.challenge_for(h, n2)
    other = {"items": [*MANIFEST["items"], {"document_id": "C", "sha256": "c" * 64}]}
    assert sad.challenge_for(sad.manifest_hash(other), n1) != sad.challenge_for(h, n1)


def test_mac_is_bound_to_approval_manifest_person_and_keys() -> None:
    value = sad.mint()
    expected = sad.mac(SECRET, value, _bound())
    assert sad.matches(SECRET, value, _bound(), expected)
    assert not sad.matches(SECRET, sad.mint(), _bound(), expected)
    assert not sad.matches(SECRET, value, _bound(approval_id="ap2"), expected)
    assert not sad.matches(SECRET, value, _bound(manifest_hex="0" * 64), expected)
    assert not sad.matches(SECRET, value, _bound(person_id="p2"), expected)
    assert not sad.matches(SECRET, value, _bound(credential_ids=["c2"]), expected)
    assert not sad.matches("t" * 48, value, _bound(), expected)


def test_sealed_copy_round_trips_and_hides_the_value() -> None:
    value = sad.mint()
    sealed = sad.seal(SECRET, value)
    assert value.hex() not in sealed
    assert sad.unseal(SECRET, sealed) == value
    assert sad.unseal("t" * 48, sealed) is None
    assert sad.unseal(SECRET, "garbage") is None
