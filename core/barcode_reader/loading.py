"""Turn untrusted image bytes from a chat platform into a small grayscale picture, or a clear error.

Everything here assumes hostile input: size and pixel count are checked before any pixel is decoded,
so a decompression bomb costs a header parse, not gigabytes of memory.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
"""A 48 MP phone photo still fits; anything larger is not a photo a person took of a barcode."""

DECODE_MIN_LONG_SIDE = 1600
WORK_MAX_LONG_SIDE = 2400
"""Barcodes in a phone photo are readable at ~2000 px; decoding more pixels only costs time and memory."""

_WANTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "GIF", "BMP")


class ImageError(ValueError):
    """Input that is not a usable image; the message is meant for the chat user."""


def _accepted_formats() -> tuple[str, ...]:
    """Formats the platforms deliver; HEIC (iPhones) only when the optional extra `heic` is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        pass
    else:
        register_heif_opener()
    Image.init()
    return tuple(name for name in _WANTED_FORMATS if name in Image.OPEN)


_ACCEPTED_FORMATS = _accepted_formats()


def _open_checked(data: bytes) -> Image.Image:
    if not data:
        raise ImageError("收到的图片是空的（0 字节），请重新发送")
    if len(data) > MAX_BYTES:
        raise ImageError("图片太大（超过 20 MB），请压缩后再发")
    try:
        image = Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS)
    except Image.DecompressionBombError as error:
        raise ImageError("图片尺寸太大，无法识别") from error
    except Exception as error:  # Pillow's plugins raise many exception types on garbage input
        raise ImageError("这不是一张图片（或格式不支持），请发送照片") from error
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise ImageError("图片尺寸太大，无法识别")
    return image


def load_grayscale(data: bytes) -> Image.Image:
    """Decode `data` to an upright 8-bit grayscale image whose long side is at most WORK_MAX_LONG_SIDE."""
    image = _open_checked(data)
    if image.format == "JPEG":
        width, height = image.size
        reduction = max(1.0, max(width, height) / DECODE_MIN_LONG_SIDE)
        # JPEG can decode straight to a smaller grayscale image in the DCT domain: a 12 MP photo then
        # costs a quarter of the decoding time and memory.
        image.draft("L", (int(width / reduction), int(height / reduction)))
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        gray = _flatten_to_gray(image)
    except Image.DecompressionBombError as error:
        raise ImageError("图片尺寸太大，无法识别") from error
    except (
        Exception
    ) as error:  # truncated or corrupt data surfaces here, as OSError, SyntaxError, zlib errors...
        raise ImageError("图片不完整或已损坏，请重新拍照发送") from error
    long_side = max(gray.size)
    if long_side > WORK_MAX_LONG_SIDE:
        ratio = WORK_MAX_LONG_SIDE / long_side
        gray = gray.resize(
            (max(1, round(gray.width * ratio)), max(1, round(gray.height * ratio))), Image.Resampling.BOX
        )
    return gray


def _flatten_to_gray(image: Image.Image) -> Image.Image:
    """Transparent pixels become white: a PNG code on a transparent background must not turn all black."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("L")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("L")
