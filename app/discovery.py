"""A domain joins the application by having the file: ``app/<domain>/models.py`` is imported for
the metadata, ``api.py`` registers its blueprint(s) (``blp`` or ``blps``), ``cli.py`` its
``COMMANDS``, ``tasks.py`` its Celery tasks.  No shared list to edit, so parallel work on different
domains never touches the same line, and a clean checkout wires exactly the files it has.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

APP_DIR = Path(__file__).resolve().parent


def domain_modules(filename: str) -> list[ModuleType]:
    """Import ``app.<domain>.<filename>`` for every domain that has it, in name order."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(APP_DIR)]), key=lambda m: m.name):
        if info.ispkg and (APP_DIR / info.name / f"{filename}.py").exists():
            found.append(importlib.import_module(f"app.{info.name}.{filename}"))
    return found
