"""What a visible stamp says and where it goes.  Pure data: no PDF library here.

The wording follows Vietnamese administrative practice (Decree 30/2020): "Ký bởi" + name, the role,
the date as ``Ngày dd/mm/yyyy``; when a deputy signs for the head, the first role line is
``KT. HIỆU TRƯỞNG`` ("ký thay") and the deputy's own title follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# A4 portrait is 595 x 842 pt.  Boxes are (x1, y1, x2, y2) in PDF user space, origin bottom-left.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Stamp:
    signer_name: str
    role: str
    signed_on: date
    on_behalf: str | None = None  # e.g. "KT. HIỆU TRƯỞNG" when a deputy signs for the principal

    def lines(self) -> tuple[str, ...]:
        """The text lines, top to bottom, exactly as they appear on the page."""
        lines: list[str] = []
        if self.on_behalf:
            lines.append(self.on_behalf)
        lines.append(self.role)
        lines.append(f"Ký bởi: {self.signer_name}")
        lines.append(f"Ngày {self.signed_on:%d/%m/%Y}")
        return tuple(lines)


@dataclass(frozen=True)
class StampPlacement:
    """Where a stamp goes; ``page`` counts from 0, negative counts from the end (-1 = last page)."""

    page: int
    box: Box

    @property
    def width(self) -> float:
        return abs(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return abs(self.box[3] - self.box[1])


# One box per approval step, per document type.  Steps follow the signing order of DOMAIN.md:
# homeroom teacher, principal (or deputy "KT."), school seal.  The transcript template leaves the
# bottom 250 pt of its last page free for them.
PLACEMENTS: dict[str, tuple[StampPlacement, ...]] = {
    "transcript": (
        StampPlacement(page=-1, box=(40.0, 60.0, 285.0, 140.0)),  # homeroom teacher, left
        StampPlacement(page=-1, box=(310.0, 60.0, 555.0, 140.0)),  # principal, right
        StampPlacement(page=-1, box=(310.0, 150.0, 555.0, 230.0)),  # school seal, above principal
    ),
    "certificate": (
        StampPlacement(page=0, box=(310.0, 60.0, 555.0, 140.0)),
        StampPlacement(page=0, box=(310.0, 150.0, 555.0, 230.0)),
    ),
}


def placement_for(doc_type: str, step: int) -> StampPlacement:
    """The box for approval ``step`` (0-based) of a document type; KeyError/IndexError if none."""
    boxes = PLACEMENTS[doc_type]
    return boxes[step]
