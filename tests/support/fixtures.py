"""Fixtures for the people/auth tests: import the ones a module uses (``from tests.support.fixtures import
clock, school``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.tenants.models import Organisation
from tests.support.clock import FrozenClock
from tests.support.factories import make_school


@pytest.fixture
def clock(app: Flask) -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    app.extensions["signet.clock"] = frozen
    yield frozen
    app.extensions.pop("signet.clock", None)


@pytest.fixture
def school(app: Flask) -> Organisation:
    return make_school("Trường Tiểu học Ngọc Thụy", "NT-LB")


@pytest.fixture
def other_school(app: Flask) -> Organisation:
    return make_school("Trường Tiểu học Gia Thụy", "GT-LB")
