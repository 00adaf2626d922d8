"""Cheap checks on raw bytes before any parser sees them, and atomic output files.

These need no PDF library: size, emptiness, the ``%PDF-`` header and the ``%%EOF`` trailer marker.
Everything that needs parsing lives in ``pdf.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from app.signing.errors import PdfEmpty, PdfNotPdf, PdfTooLarge, PdfTruncated

HEADER_WINDOW = 1024  # ISO 32000 lets readers accept junk before the header; Acrobat allows 1 KB
EOF_WINDOW = 2048  # some generators append a little garbage after %%EOF


def check_bytes(pdf: bytes, *, max_bytes: int) -> int:
    """Raise the matching ``PdfError`` unless ``pdf`` looks like a complete PDF; return the header offset."""
    if not pdf or not pdf.strip():
        raise PdfEmpty()
    if len(pdf) > max_bytes:
        raise PdfTooLarge(
            f"The PDF is {len(pdf) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB. "
            "Reduce its size (e.g. scan at 150 dpi) and retry.",
            details={"size": len(pdf), "limit": max_bytes},
        )
    offset = pdf.find(b"%PDF-", 0, HEADER_WINDOW)
    if offset < 0:
        raise PdfNotPdf()
    tail = pdf[-EOF_WINDOW:]
    if b"%%EOF" not in tail or b"startxref" not in pdf[-EOF_WINDOW - 64 :]:
        raise PdfTruncated()
    return offset


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
