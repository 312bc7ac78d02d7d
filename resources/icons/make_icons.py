"""Draw the FusionViewer app icon: fusionviewer.svg, PNGs of 16..512 px (rendered with QtSvg)
and, from the 512 px PNG, fusionviewer.ico (Windows) and fusionviewer.icns (macOS) with Pillow.

Two overlapping discs, an anatomical grey one and a functional orange one, whose overlap is
the fused colour, on a dark rounded square. Run: python resources/icons/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#23303f"/>
      <stop offset="1" stop-color="#10161d"/>
    </linearGradient>
    <radialGradient id="gray" cx="0.42" cy="0.40" r="0.65">
      <stop offset="0" stop-color="#f2f2f2"/>
      <stop offset="1" stop-color="#8b949c"/>
    </radialGradient>
    <radialGradient id="hot" cx="0.55" cy="0.45" r="0.65">
      <stop offset="0" stop-color="#ffd45c"/>
      <stop offset="0.6" stop-color="#ff7a1a"/>
      <stop offset="1" stop-color="#b3261e"/>
    </radialGradient>
    <clipPath id="left"><circle cx="100" cy="128" r="66"/></clipPath>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="44" fill="url(#bg)"/>
  <circle cx="100" cy="128" r="66" fill="url(#gray)"/>
  <circle cx="156" cy="128" r="66" fill="url(#hot)" fill-opacity="0.92"/>
  <circle cx="156" cy="128" r="66" fill="url(#gray)" fill-opacity="0.45" clip-path="url(#left)"/>
  <path d="M128 70 v116" stroke="#ffffff" stroke-opacity="0.55" stroke-width="5"
        stroke-dasharray="10 8"/>
</svg>
"""


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    svg_path = HERE / "fusionviewer.svg"
    svg_path.write_text(SVG, encoding="utf-8")
    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        print(f"{svg_path}: invalid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = HERE / f"fusionviewer-{size}.png"
        if not image.save(str(out), "PNG"):
            print(f"{out}: could not write", file=sys.stderr)
            return 1
    from PIL import Image as PILImage

    big = PILImage.open(HERE / "fusionviewer-512.png").convert("RGBA")
    big.save(HERE / "fusionviewer.ico", sizes=[(n, n) for n in SIZES if n <= 256])
    big.save(HERE / "fusionviewer.icns")
    print(f"wrote {svg_path.name}, {len(SIZES)} PNGs, .ico and .icns into {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
