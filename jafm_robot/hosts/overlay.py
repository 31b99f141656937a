"""Text overlays on video frames (instruction, outcome, loop statistics), Japanese included.

OpenCV's Hershey fonts have no Japanese glyphs, so text is drawn with Pillow using the IPAex Gothic
font that the ``matplotlib-fontja`` wheel ships (no system font package needed on a fresh machine).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        import matplotlib_fontja

        path = Path(matplotlib_fontja.__file__).parent / "fonts" / "ipaexg.ttf"
        return ImageFont.truetype(str(path), size)
    except (ImportError, OSError):  # still readable for English without the CJK font
        return ImageFont.load_default()


def overlay(frame: np.ndarray, lines: list[str], *, scale: int = 1, footer: list[str] | None = None,
            colour: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Return ``frame`` (uint8 HxWx3), upscaled by ``scale``, with ``lines`` on a dark band at the top
    and ``footer`` lines at the bottom."""
    img = Image.fromarray(np.asarray(frame, dtype=np.uint8)[..., :3])
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    size = max(10, img.width // 30)
    font = _font(size)
    draw = ImageDraw.Draw(img, "RGBA")
    pad = 3
    if lines:
        h = len(lines) * (size + pad) + pad
        draw.rectangle([0, 0, img.width, h], fill=(0, 0, 0, 150))
        for i, text in enumerate(lines):
            draw.text((pad, pad + i * (size + pad)), text, font=font, fill=colour)
    if footer:
        h = len(footer) * (size + pad) + pad
        draw.rectangle([0, img.height - h, img.width, img.height], fill=(0, 0, 0, 150))
        for i, text in enumerate(footer):
            draw.text((pad, img.height - h + pad + i * (size + pad)), text, font=font, fill=colour)
    return np.asarray(img)
