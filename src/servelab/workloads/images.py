"""Solid-colour PNG images (Pillow) and the data URLs that carry them in chat requests."""

from __future__ import annotations

import base64
import io

from PIL import Image

# Pure colours a vision model should name without doubt.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
}


def solid_png(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    """A ``size``×``size`` PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(png: bytes) -> str:
    """``data:image/png;base64,…`` for an ``image_url`` content part."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_part(png: bytes) -> dict:
    """An OpenAI ``image_url`` content part carrying the PNG inline."""
    return {"type": "image_url", "image_url": {"url": png_data_url(png)}}
