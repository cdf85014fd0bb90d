"""The two decoding engines behind one shape: an image in, validated and normalised reads out.

zbar (via pyzbar) and zxing-cpp fail on different photos and misread different ones, so agreement
between them is the decoder's main evidence that a read is right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import zxingcpp
from PIL import Image
from pyzbar import pyzbar

from core.gtin import BarcodeError, expand_upce, gtin_from_gs1, has_valid_check_digit, normalize_barcode

Engine = Literal["zbar", "zxing"]
Box = tuple[float, float, float, float]
"""left, top, right, bottom as fractions of the image size, so a box found at one scale fits any other."""

EAN_13, EAN_8, UPC_A, UPC_E = "EAN-13", "EAN-8", "UPC-A", "UPC-E"
CODE_128, CODE_39, ITF, QR = "CODE-128", "CODE-39", "ITF", "QR"


@dataclass(frozen=True)
class Read:
    """One code as one engine saw it: `text` as printed on the label, `normalized` as the catalog stores it."""

    engine: Engine
    format: str
    text: str
    normalized: str
    box: Box | None = None


_ZBAR_FORMATS = {
    "EAN13": EAN_13,
    "UPCA": UPC_A,
    "EAN8": EAN_8,
    "UPCE": UPC_E,
    "CODE128": CODE_128,
    "CODE39": CODE_39,
    "I25": ITF,
    "QRCODE": QR,
}
_ZBAR_SYMBOLS = [pyzbar.ZBarSymbol[name] for name in _ZBAR_FORMATS]

_ZXING_FORMATS = {
    zxingcpp.BarcodeFormat.EAN13: EAN_13,
    zxingcpp.BarcodeFormat.UPCA: UPC_A,
    zxingcpp.BarcodeFormat.EAN8: EAN_8,
    zxingcpp.BarcodeFormat.UPCE: UPC_E,
    zxingcpp.BarcodeFormat.Code128: CODE_128,
    zxingcpp.BarcodeFormat.Code39: CODE_39,
    zxingcpp.BarcodeFormat.ITF: ITF,
    zxingcpp.BarcodeFormat.QRCode: QR,
}
_ZXING_WANTED = zxingcpp.BarcodeFormats(list(_ZXING_FORMATS))


def make_read(engine: Engine, format_name: str, text: str) -> Read | None:
    """Validate and normalise a raw read; None when it cannot be a correct code of that format."""
    if not text:
        return None
    try:
        if format_name in (EAN_13, UPC_A):
            return _ean13_or_upca(engine, text)
        if format_name == EAN_8:
            return Read(engine, EAN_8, text, text) if len(text) == 8 and has_valid_check_digit(text) else None
        if format_name == UPC_E:
            return _upce(engine, text)
        if format_name == ITF:
            # Only ITF-14 (carton codes) carries a check digit; shorter ITF reads are often partial scans.
            if len(text) != 14 or not has_valid_check_digit(text):
                return None
            return Read(engine, ITF, text, normalize_barcode(text))
    except BarcodeError:
        return None
    return Read(engine, format_name, text, gtin_from_gs1(text) or text)


def _ean13_or_upca(engine: Engine, text: str) -> Read | None:
    if len(text) not in (12, 13) or not has_valid_check_digit(text):
        return None
    normalized = normalize_barcode(text)
    if normalized.startswith("0"):
        return Read(engine, UPC_A, normalized[1:], normalized)
    return Read(engine, EAN_13, normalized, normalized)


def _upce(engine: Engine, text: str) -> Read | None:
    if len(text) == 8:
        expanded = expand_upce(text)
        return Read(engine, UPC_E, text, "0" + expanded) if has_valid_check_digit(expanded) else None
    read = _ean13_or_upca(engine, text)
    return Read(engine, UPC_E, read.text, read.normalized) if read else None


def _box(points: Iterable[tuple[float, float]], image: Image.Image) -> Box:
    xs, ys = zip(*points, strict=True)
    return (min(xs) / image.width, min(ys) / image.height, max(xs) / image.width, max(ys) / image.height)


def zbar_reads(image: Image.Image) -> list[Read]:
    reads = []
    for found in pyzbar.decode(image, symbols=_ZBAR_SYMBOLS):
        read = make_read("zbar", _ZBAR_FORMATS.get(found.type, ""), found.data.decode("utf-8", "replace"))
        if read:
            reads.append(replace(read, box=_box(((point.x, point.y) for point in found.polygon), image)))
    return reads


def zxing_reads(
    image: Image.Image, *, binarizer: zxingcpp.Binarizer = zxingcpp.Binarizer.LocalAverage
) -> list[Read]:
    reads = []
    found_codes = zxingcpp.read_barcodes(
        image, formats=_ZXING_WANTED, text_mode=zxingcpp.TextMode.Plain, binarizer=binarizer
    )
    for found in found_codes:
        read = make_read("zxing", _ZXING_FORMATS.get(found.format, ""), found.text)
        if read:
            corners = (
                found.position.top_left,
                found.position.top_right,
                found.position.bottom_right,
                found.position.bottom_left,
            )
            reads.append(replace(read, box=_box(((corner.x, corner.y) for corner in corners), image)))
    return reads
