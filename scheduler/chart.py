"""A small bar chart of daily sales for the digest, drawn with pillow.

Chinese labels need a CJK font; one is used when the system has it, never downloaded. Without one the
chart is labelled in ASCII and digits, which every font can draw.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 720, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 44, 40
BAR = (52, 120, 246)
TODAY_BAR = (245, 130, 32)
GRID = (225, 228, 232)
INK = (40, 44, 52)

# Where distributions put CJK fonts (Debian/Ubuntu, Fedora, Alpine, macOS, Windows).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@cache
def cjk_font_path() -> Path | None:
    return next((Path(p) for p in CJK_FONT_CANDIDATES if Path(p).is_file()), None)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def sales_chart(days: Sequence[tuple[date, Decimal]]) -> bytes:
    """PNG bars of revenue per day, the last day highlighted. Blocking: run it in a thread."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font = _font(18), _font(12)
    title = f"近{len(days)}天销售额（元）" if cjk_font_path() else f"Sales, last {len(days)} days (CNY)"
    draw.text((MARGIN_LEFT, 12), title, fill=INK, font=title_font)

    top = max((value for _, value in days), default=Decimal(0))
    scale_max = float(top) * 1.1 or 1.0
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    for step in range(5):
        y = MARGIN_TOP + plot_height * step / 4
        draw.line((MARGIN_LEFT, y, WIDTH - MARGIN_RIGHT, y), fill=GRID)
        draw.text((6, y - 7), f"{scale_max * (4 - step) / 4:,.0f}", fill=INK, font=label_font)

    slot = plot_width / max(len(days), 1)
    for index, (day, value) in enumerate(days):
        height = plot_height * float(value) / scale_max
        left = MARGIN_LEFT + index * slot + slot * 0.15
        right = left + slot * 0.7
        colour = TODAY_BAR if index == len(days) - 1 else BAR
        if height > 0:
            draw.rectangle((left, MARGIN_TOP + plot_height - height, right, MARGIN_TOP + plot_height), fill=colour)
        draw.text((left, HEIGHT - MARGIN_BOTTOM + 8), f"{day:%m-%d}", fill=INK, font=label_font)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
