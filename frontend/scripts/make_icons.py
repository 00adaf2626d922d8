"""Draws Signet's app icons (a red seal with a pen nib on navy) into public/icons/.

Run once after changing the design; the PNGs are committed:
    ../.venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

NAVY = (15, 61, 122, 255)
SEAL_RED = (185, 28, 28, 255)
PAPER = (255, 251, 240, 255)
OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
SCALE = 4  # draw large, shrink with a good filter: smooth edges without an anti-aliasing library


def glyph(size: int, *, maskable: bool) -> Image.Image:
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:  # full bleed; the seal stays inside the 80 % safe zone
        d.rectangle((0, 0, big, big), fill=NAVY)
        inset = big * 0.2
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=NAVY)
        inset = big * 0.12
    box = (inset, inset, big - inset, big - inset)
    d.ellipse(box, fill=PAPER)
    ring = (big - 2 * inset) * 0.07
    d.ellipse(tuple(v + (ring if i < 2 else -ring) for i, v in enumerate(box)), outline=SEAL_RED, width=int(ring))
    # pen nib: a kite pointing down-left, with a slit and a breathing hole
    c = big / 2
    r = (big - 2 * inset) * 0.3
    nib = [(c - r * 0.95, c + r * 0.95), (c - r * 0.05, c - r * 0.55), (c + r * 0.6, c - r * 0.6),
           (c + r * 0.55, c + r * 0.05)]
    d.polygon(nib, fill=SEAL_RED)
    cap = [(c - r * 0.05, c - r * 0.55), (c + r * 0.35, c - r * 0.95), (c + r * 0.95, c - r * 0.35),
           (c + r * 0.55, c + r * 0.05)]
    d.polygon(cap, fill=NAVY)
    d.line([(c - r * 0.95, c + r * 0.95), (c + r * 0.12, c - r * 0.12)], fill=PAPER, width=int(r * 0.09))
    hole = r * 0.12
    d.ellipse((c + r * 0.12 - hole, c - r * 0.12 - hole, c + r * 0.12 + hole, c - r * 0.12 + hole), fill=PAPER)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        glyph(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    glyph(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    glyph(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
    glyph(48, maskable=False).save(OUT / "favicon-48.png", optimize=True)


if __name__ == "__main__":
    main()
