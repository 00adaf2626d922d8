"""Prints the OpenAPI document, deterministically (``make openapi``)."""

from __future__ import annotations

import json
import sys

from app import create_app
from app.settings import Settings


def spec_json() -> str:
    app = create_app(Settings.from_env().with_(log_level="WARNING"))
    with app.app_context():
        spec = app.extensions["signet.api"].spec.to_dict()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(spec_json())
