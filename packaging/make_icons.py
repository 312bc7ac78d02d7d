"""Draw the FusionViewer application icon set into resources/icons/ (PNG sizes, .ico, .icns).

Run once with any Python that has Pillow: ``python packaging/make_icons.py``. The outputs are
checked in, so builds do not need to run this.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def draw_icon(size: int = 1024) -> Image.Image:
    """The icon at `size` pixels: two overlapping discs (gray anatomy, warm function) blended."""
    s = size
    base = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    ImageDraw.Draw(base).rounded_rectangle((s * 0.04, s * 0.04, s * 0.96, s * 0.96),
                                           radius=s * 0.2, fill=(24, 32, 48, 255))
    gray = Image.new("RGB", (s, s), (0, 0, 0))
    ImageDraw.Draw(gray).ellipse((s * 0.14, s * 0.22, s * 0.66, s * 0.74), fill=(200, 200, 200))
    warm = Image.new("RGB", (s, s), (0, 0, 0))
    ImageDraw.Draw(warm).ellipse((s * 0.36, s * 0.22, s * 0.88, s * 0.74), fill=(255, 120, 20))
    blend = ImageChops.lighter(gray, warm).filter(ImageFilter.GaussianBlur(s * 0.004))
    mask = ImageChops.lighter(gray.convert("L"), warm.convert("L")).point(lambda v: 255 if v else 0)
    base.paste(blend, (0, 0), mask.filter(ImageFilter.GaussianBlur(s * 0.004)))
    ImageDraw.Draw(base).rectangle((s * 0.14, s * 0.8, s * 0.86, s * 0.84), fill=(255, 200, 60))
    return base


def main() -> None:
    OUT.mkdir(exist_ok=True)
    big = draw_icon()
    for n in SIZES:
        big.resize((n, n), Image.LANCZOS).save(OUT / f"fusionviewer-{n}.png")
    big.save(OUT / "fusionviewer.ico", sizes=[(n, n) for n in SIZES if n <= 256])
    big.resize((512, 512), Image.LANCZOS).save(OUT / "fusionviewer.icns")
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
