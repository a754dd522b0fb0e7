"""Draw the brand images: a room outline holding three people, at any size.

Run: .venv/bin/python scripts/brand.py (Pillow comes with Home Assistant).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).parent.parent / "custom_components" / "space_occupancy" / "brand"
BLUE = (3, 169, 244, 255)
DARK = (1, 87, 155, 255)
WHITE = (255, 255, 255, 255)


def draw_icon(size: int) -> Image.Image:
    """Draw a rounded blue square with a room outline and three people."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 256
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=48 * unit, fill=BLUE)
    draw.rounded_rectangle(
        (28 * unit, 28 * unit, 228 * unit, 228 * unit),
        radius=20 * unit,
        outline=WHITE,
        width=round(10 * unit),
    )
    for center, scale in ((128, 1.0), (78, 0.8), (178, 0.8)):
        head = 22 * scale * unit
        cx, cy = center * unit, (112 + (1 - scale) * 40) * unit
        draw.ellipse((cx - head, cy - head, cx + head, cy + head), fill=WHITE)
        body_top = cy + head + 6 * unit
        draw.pieslice(
            (
                cx - 42 * scale * unit,
                body_top,
                cx + 42 * scale * unit,
                body_top + 84 * scale * unit,
            ),
            180,
            360,
            fill=WHITE,
        )
    return image


def draw_logo(height: int) -> Image.Image:
    """Draw the icon followed by three bars of rising occupancy."""
    icon = draw_icon(height)
    logo = Image.new("RGBA", (height * 3, height), (0, 0, 0, 0))
    logo.paste(icon, (0, 0))
    draw = ImageDraw.Draw(logo)
    unit = height / 256
    for index, level in enumerate((0.35, 0.6, 0.9)):
        left = height + (40 + index * 150) * unit
        top = height - 30 * unit - level * 196 * unit
        draw.rounded_rectangle(
            (left, top, left + 110 * unit, height - 30 * unit),
            radius=14 * unit,
            fill=DARK if index == 2 else BLUE,
        )
    return logo


def main() -> None:
    """Write icon.png, icon@2x.png and logo.png."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw_icon(256).save(BRAND / "icon.png", optimize=True)
    draw_icon(512).save(BRAND / "icon@2x.png", optimize=True)
    draw_logo(256).save(BRAND / "logo.png", optimize=True)


if __name__ == "__main__":
    main()
