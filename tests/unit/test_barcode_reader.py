"""The photo decoder: reads rendered codes under rotation, blur, noise and JPEG; never returns an
unconfirmed retail code as certain; turns bad input into a typed error with a message for the chat user.

Images are generated with fixed seeds: EAN-13 is drawn here from its encoding table (independent of
both engines), the other symbologies with zxing-cpp's writer (a dependency already).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import struct
import time
import zlib
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from core.barcode_reader import Code, ImageError, ScanResult, barcode_cli, decode_image, read_barcodes
from core.barcode_reader.engines import Read, make_read
from core.barcode_reader.loading import load_grayscale
from core.barcode_reader.search import Evidence

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_PHOTOS = REPO_ROOT.parent / "shared" / "bench" / "barcodes"

_EAN_L = [
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
]
_EAN_R = ["".join("1" if bit == "0" else "0" for bit in pattern) for pattern in _EAN_L]
_EAN_G = [pattern[::-1] for pattern in _EAN_R]
_EAN_PARITY = [
    "LLLLLL",
    "LLGLGG",
    "LLGGLG",
    "LLGGGL",
    "LGLLGG",
    "LGGLLG",
    "LGGGLL",
    "LGLGLG",
    "LGLGGL",
    "LGGLGL",
]


def render_ean13(code: str, module_px: int = 3, height_px: int = 160) -> Image.Image:
    """EAN-13 bars from the GS1 encoding tables, with quiet zones, black on white."""
    digits = [int(char) for char in code]
    left = "".join(
        (_EAN_L if parity == "L" else _EAN_G)[digit]
        for parity, digit in zip(_EAN_PARITY[digits[0]], digits[1:7], strict=True)
    )
    right = "".join(_EAN_R[digit] for digit in digits[7:])
    modules = "0" * 12 + "101" + left + "01010" + right + "101" + "0" * 12
    image = Image.new("L", (len(modules) * module_px, height_px), 255)
    draw = ImageDraw.Draw(image)
    for index, bit in enumerate(modules):
        if bit == "1":
            draw.rectangle((index * module_px, 0, (index + 1) * module_px - 1, height_px - 1), fill=0)
    return image


def render_with_zxing(text: str, barcode_format: zxingcpp.BarcodeFormat, scale: int = 4) -> Image.Image:
    bitmap = zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(text, barcode_format), scale=scale)
    height, width = memoryview(bitmap).shape
    image = Image.frombuffer("L", (width, height), bytes(memoryview(bitmap)))
    if barcode_format in (zxingcpp.BarcodeFormat.QRCode,):
        return image
    return image.resize((width, max(height, 120)))  # linear codes come out one row high


def on_page(
    symbol: Image.Image, size: tuple[int, int] = (640, 480), at: tuple[int, int] | None = None
) -> Image.Image:
    page = Image.new("L", size, 235)
    position = at or ((size[0] - symbol.width) // 2, (size[1] - symbol.height) // 2)
    page.paste(symbol, position)
    return page


def noisy(image: Image.Image, seed: int, amount: float) -> Image.Image:
    grain = Image.frombytes("L", image.size, random.Random(seed).randbytes(image.width * image.height))
    return ImageChops.blend(image, grain, amount)


def encoded(image: Image.Image, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def decoded_only(data: bytes) -> ScanResult:
    result = decode_image(data)
    assert not result.ambiguous, result
    return result


# --- rendered codes under the distortions of a phone photo -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("upright", lambda symbol: on_page(symbol)),
        (
            "tilted 12 degrees",
            lambda symbol: on_page(symbol).rotate(12, Image.Resampling.BICUBIC, fillcolor=235),
        ),
        ("turned 90 degrees", lambda symbol: on_page(symbol).rotate(90, expand=True)),
        ("upside down", lambda symbol: on_page(symbol).rotate(180)),
        (
            "tilted 40 degrees",
            lambda symbol: on_page(symbol, (720, 720)).rotate(40, Image.Resampling.BICUBIC, fillcolor=235),
        ),
        ("blurred", lambda symbol: on_page(symbol).filter(ImageFilter.GaussianBlur(1.6))),
        ("noisy", lambda symbol: noisy(on_page(symbol), seed=7, amount=0.3)),
        ("low contrast", lambda symbol: on_page(symbol).point(lambda value: 110 + value * 60 // 255)),
        ("light on dark", lambda symbol: on_page(symbol).point(lambda value: 255 - value)),
    ],
)
def test_rendered_ean13_survives(name: str, make: object) -> None:
    image = make(render_ean13("6901234567892"))  # type: ignore[operator]
    result = decoded_only(encoded(image, "JPEG", quality=70))
    assert [code.normalized for code in result.codes] == ["6901234567892"], name
    assert result.codes[0].format == "EAN-13"


def test_upca_is_normalised_to_its_ean13_form() -> None:
    result = decoded_only(encoded(on_page(render_ean13("0036000291452"))))
    assert result.codes == (Code(format="UPC-A", text="036000291452", normalized="0036000291452"),)


@pytest.mark.parametrize(
    ("text", "barcode_format", "expected_format", "normalized"),
    [
        ("PSI-2024-0042", zxingcpp.BarcodeFormat.Code128, "CODE-128", "PSI-2024-0042"),
        ("PSI2024", zxingcpp.BarcodeFormat.Code39, "CODE-39", "PSI2024"),
        ("96385074", zxingcpp.BarcodeFormat.EAN8, "EAN-8", "96385074"),
        ("01234565", zxingcpp.BarcodeFormat.UPCE, "UPC-E", "0012345000065"),
        ("15400141288763", zxingcpp.BarcodeFormat.ITF, "ITF", "15400141288763"),
        ("库存盘点 A-01", zxingcpp.BarcodeFormat.QRCode, "QR", "库存盘点 A-01"),
        (
            "https://id.gs1.org/01/09506000134352/10/LOT7",
            zxingcpp.BarcodeFormat.QRCode,
            "QR",
            "9506000134352",
        ),
    ],
)
def test_every_symbology(
    text: str, barcode_format: zxingcpp.BarcodeFormat, expected_format: str, normalized: str
) -> None:
    image = noisy(on_page(render_with_zxing(text, barcode_format, scale=3)), seed=3, amount=0.1)
    result = decoded_only(encoded(image, "JPEG", quality=80))
    assert [(code.format, code.normalized) for code in result.codes] == [(expected_format, normalized)]


def test_small_code_in_a_12_megapixel_photo() -> None:
    frame = on_page(render_ean13("4006381333931", module_px=4), size=(4032, 3024), at=(2600, 700))
    frame = noisy(frame, seed=11, amount=0.05)
    started = time.perf_counter()
    result = decoded_only(encoded(frame, "JPEG", quality=85))
    assert [code.normalized for code in result.codes] == ["4006381333931"]
    assert time.perf_counter() - started < 5  # generous: the machine is shared; the bench measures speed


def test_two_codes_in_one_frame_are_both_reported() -> None:
    frame = Image.new("L", (900, 500), 240)
    frame.paste(render_ean13("6901234567892"), (20, 150))
    frame.paste(render_with_zxing("BOX-77", zxingcpp.BarcodeFormat.Code128, scale=3), (480, 160))
    result = decoded_only(encoded(frame))
    assert {code.normalized for code in result.codes} == {"6901234567892", "BOX-77"}


def test_a_blank_photo_has_no_codes() -> None:
    result = decode_image(encoded(noisy(Image.new("L", (640, 480), 200), seed=5, amount=0.2), "JPEG"))
    assert result == ScanResult(codes=(), ambiguous=False, elapsed_ms=result.elapsed_ms)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP", "GIF", "BMP"])
def test_platform_image_formats(image_format: str) -> None:
    result = decoded_only(encoded(on_page(render_ean13("6901234567892")), image_format))
    assert result.codes[0].normalized == "6901234567892"


def test_heic_when_the_optional_extra_is_installed() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    result = decoded_only(encoded(on_page(render_ean13("6901234567892")).convert("RGB"), "HEIF", quality=90))
    assert result.codes[0].normalized == "6901234567892"


def test_transparent_png_is_read_on_white() -> None:
    symbol = render_with_zxing("ABC-123", zxingcpp.BarcodeFormat.Code128, scale=3)
    transparent = Image.new("LA", symbol.size, (0, 0))
    transparent.putalpha(symbol.point(lambda value: 255 - value))  # bars opaque black, spaces transparent
    result = decoded_only(encoded(transparent))
    assert [code.text for code in result.codes] == ["ABC-123"]


def test_exif_orientation_is_honoured() -> None:
    upright = on_page(render_ean13("6901234567892"))
    stored = upright.rotate(90, expand=True)  # how the sensor stored it; EXIF 8 says "turn 90 back"
    exif = Image.Exif()
    exif[0x0112] = 8
    data = encoded(stored, "JPEG", exif=exif)
    assert load_grayscale(data).size == upright.size
    assert decoded_only(data).codes[0].normalized == "6901234567892"


# --- never wrong ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_format", "text"),
    [
        ("EAN-13", "6901234567891"),
        ("UPC-A", "036000291453"),
        ("EAN-8", "96385075"),
        ("ITF", "1540014128876"),
        ("UPC-E", "01234566"),
    ],
)
def test_reads_with_a_bad_check_digit_or_length_are_dropped(raw_format: str, text: str) -> None:
    assert make_read("zbar", raw_format, text) is None


def test_one_engine_alone_does_not_confirm_a_retail_code() -> None:
    evidence = Evidence(known=None)
    evidence.add("plain/zbar", [Read("zbar", "EAN-13", "6901234567892", "6901234567892")])
    assert evidence.confirmed() == []
    evidence.add("sharpened/zbar", [Read("zbar", "EAN-13", "6901234567892", "6901234567892")])
    assert evidence.confirmed() == []  # the same engine twice is not independent evidence
    evidence.add("plain/zxing", [Read("zxing", "EAN-13", "6901234567892", "6901234567892")])
    assert [candidate.normalized for candidate in evidence.confirmed()] == ["6901234567892"]


def test_the_catalog_settles_a_disagreement() -> None:
    evidence = Evidence(known={"6901234567892"}.__contains__)
    evidence.add("plain/zbar", [Read("zbar", "EAN-13", "6901234567892", "6901234567892")])
    evidence.add("plain/zxing", [Read("zxing", "EAN-13", "6901234567885", "6901234567885")])
    assert [candidate.normalized for candidate in evidence.confirmed()] == ["6901234567892"]


def test_zxing_text_wins_for_self_checked_codes() -> None:
    evidence = Evidence(known=None)
    evidence.add("plain/zbar", [Read("zbar", "QR", "蹬靼翌QR", "蹬靼翌QR")])  # zbar's Shift-JIS guess
    evidence.add("plain/zxing", [Read("zxing", "QR", "ﾃﾞｻﾞｲﾝQR", "ﾃﾞｻﾞｲﾝQR")])
    assert [candidate.text for candidate in evidence.confirmed()] == ["ﾃﾞｻﾞｲﾝQR"]


def test_unconfirmed_reads_come_back_ambiguous(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.barcode_reader.search.zxing_reads", lambda image, **options: [])
    result = decode_image(encoded(on_page(render_ean13("6901234567892"))))
    assert result.ambiguous
    assert [code.normalized for code in result.codes] == ["6901234567892"]
    trusted = decode_image(
        encoded(on_page(render_ean13("6901234567892"))), known={"6901234567892"}.__contains__
    )
    assert not trusted.ambiguous


# --- bad input ----------------------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions: the shape of a decompression bomb."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "空的"),
        (b"hello, this is text", "这不是一张图片"),
        (b"%PDF-1.7\n" + b"0" * 100, "这不是一张图片"),
        (b"\x00" * (20 * 1024 * 1024 + 1), "超过 20 MB"),
        (_png_claiming(100_000, 100_000), "尺寸太大"),
        (_png_claiming(9_000, 6_000), "尺寸太大"),
    ],
)
def test_bad_input_is_a_typed_error_for_the_user(data: bytes, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ImageError, match=message):
        decode_image(data)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_truncated_image_is_a_typed_error(image_format: str) -> None:
    whole = encoded(noisy(on_page(render_ean13("6901234567892")), seed=1, amount=0.2), image_format)
    with pytest.raises(ImageError, match="不完整"):
        decode_image(whole[: len(whole) // 2])


def test_huge_but_sparse_png_is_refused_before_decoding() -> None:
    """A 7000x7000 PNG compresses to a few kilobytes but would take 49 MB (more as RGB) to decode."""
    data = encoded(Image.new("1", (8000, 7000), 1))
    assert len(data) < 200_000
    with pytest.raises(ImageError, match="尺寸太大"):
        decode_image(data)


def test_budget_bounds_the_time_on_a_photo_without_codes() -> None:
    frame = noisy(Image.new("L", (4032, 3024), 128), seed=9, amount=0.5)
    data = encoded(frame, "JPEG", quality=80)
    started = time.thread_time()
    result = decode_image(data, budget_ms=200)
    assert result.codes == ()
    assert time.thread_time() - started < 0.6


# --- the async door and the command line -------------------------------------------------------------------


async def test_read_barcodes_keeps_the_event_loop_free() -> None:
    data = encoded(noisy(on_page(render_ean13("6901234567892"), (2000, 1500)), seed=2, amount=0.2), "JPEG")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    result = await read_barcodes(data)
    ticking.cancel()
    assert result.codes[0].normalized == "6901234567892"
    assert ticks >= 3


def test_cli_prints_one_json_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encoded(on_page(render_ean13("6901234567892"))))
    not_a_photo = tmp_path / "notes.txt"
    not_a_photo.write_text("盘点记录")
    exit_code = barcode_cli([str(photo), str(not_a_photo), str(tmp_path / "missing.jpg")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert exit_code == 1
    assert lines[0]["file"] == str(photo)
    assert lines[0]["codes"] == [{"format": "EAN-13", "text": "6901234567892"}]
    assert isinstance(lines[0]["ms"], float)
    assert "这不是一张图片" in lines[1]["error"]
    assert "无法读取文件" in lines[2]["error"]


# --- a few of the real benchmark photos --------------------------------------------------------------------


def _bench_photo(set_name: str, file_name: str) -> tuple[bytes, str]:
    if not BENCH_PHOTOS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"benchmark photos missing at {BENCH_PHOTOS}, and CI=true requires them")
        pytest.skip("benchmark photos (shared/bench/barcodes beside the repo) are absent")
    with (BENCH_PHOTOS / set_name / "manifest.csv").open(encoding="utf-8", newline="") as manifest:
        expected = next(row["expected_text"] for row in csv.DictReader(manifest) if row["file"] == file_name)
    return (BENCH_PHOTOS / set_name / file_name).read_bytes(), expected


@pytest.mark.parametrize(
    ("set_name", "file_name"),
    [
        ("zxing-ean13-1", "1.png"),  # plain product photo
        ("zxing-upca-3", "03.png"),  # glossy can: bars read light on dark
        ("zxing-code128-2", "25.png"),  # long numeric Code 128 that must not be taken for a GTIN
        ("zxing-qrcode-2", "17.png"),  # Shift-JIS half-width katakana that zbar decodes wrongly
    ],
)
def test_real_photos(set_name: str, file_name: str) -> None:
    data, expected = _bench_photo(set_name, file_name)
    result = decoded_only(data)
    catalog_form = "0" + expected if expected.isdigit() and len(expected) == 12 else expected
    assert [code.normalized for code in result.codes] == [catalog_form]


def test_real_photo_of_a_cut_off_upc_gives_no_confident_wrong_code() -> None:
    """zbar reads this partial UPC-A as a valid-looking UPC-E; the decoder must not return it as certain."""
    data, expected = _bench_photo("zxing-upca-2", "38.png")
    result = decode_image(data)
    assert result.ambiguous or all(code.normalized == "0" + expected for code in result.codes)
