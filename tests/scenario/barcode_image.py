"""EAN-13 barcodes drawn as PNG photos, for tests that send the bot a picture."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
_G = tuple(code.translate(str.maketrans("01", "10"))[::-1] for code in _L)
_R = tuple(code.translate(str.maketrans("01", "10")) for code in _L)
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def ean13_modules(code: str) -> str:
    first, left, right = int(code[0]), code[1:7], code[7:]
    bars = "101"
    for digit, parity in zip(left, _PARITY[first], strict=True):
        bars += (_L if parity == "L" else _G)[int(digit)]
    bars += "01010"
    bars += "".join(_R[int(digit)] for digit in right)
    return bars + "101"


def ean13_image(code: str, module: int = 4, quiet: int = 12, ink_spread: int = 0) -> Image.Image:
    """`ink_spread` pixels of bleed on each side of every bar, as on cheap thermal labels: zbar still
    reads it, zxing does not, so the read is unconfirmed (ambiguous) unless the catalog knows the code."""
    modules = ean13_modules(code)
    width, height = (len(modules) + 2 * quiet) * module, 80 * module // 2
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for index, bit in enumerate(modules):
        if bit == "1":
            x = (quiet + index) * module
            draw.rectangle([x - ink_spread, module * 4, x + module - 1 + ink_spread, height - module * 4], fill=0)
    return image


def ean13_png(code: str, module: int = 4, quiet: int = 12) -> bytes:
    return _png(ean13_image(code, module, quiet))


def smudged_labels_png(*codes: str) -> bytes:
    """Several bled labels side by side in one photo."""
    labels = [ean13_image(code, ink_spread=1) for code in codes]
    gap = 40
    photo = Image.new("L", (sum(label.width for label in labels) + gap * (len(labels) - 1), labels[0].height), 255)
    x = 0
    for label in labels:
        photo.paste(label, (x, 0))
        x += label.width + gap
    return _png(photo)


def phone_photo_png(code: str) -> bytes:
    """The label small in an 8-megapixel frame, stored uncompressed: several megabytes, like a phone's photo,
    so an upload arrives in many pieces."""
    label = ean13_image(code)
    frame = Image.new("L", (3264, 2448), 235)
    frame.paste(label, ((frame.width - label.width) // 2, (frame.height - label.height) // 2))
    buffer = io.BytesIO()
    frame.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (400, 300), 200).save(buffer, format="PNG")
    return buffer.getvalue()
