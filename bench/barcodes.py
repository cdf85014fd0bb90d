"""Barcode photo benchmark: psibot's decoder against plain pyzbar and plain zxing-cpp on the same photos.

    python bench/barcodes.py [--full-frames] [--sets zxing-upca-2,...] [--decoders psibot,pyzbar,zxing-cpp]

Reads the sets under <repo>/../shared/bench/barcodes (each a folder of photos with a manifest.csv of
expected text). Per set and overall it prints images, correct reads, wrong reads (and how many of those
are EAN/UPC codes with a wrong digit), results flagged unsure, misses, and the median and p95 time per
photo, measured from image bytes to codes as CPU time of the decoding thread, pinned to one core (CPU
time, not wall time, so that other work on a shared machine does not inflate it).

Scoring rules, applied to every decoder alike:
- text is compared after CRLF -> LF (the expected files store LF, the symbols carry CRLF) and with a
  12-digit UPC-A written as its 13-digit EAN form (zbar reports UPC-A that way);
- a read equal to the expected text of another photo in the same set is a second real label in the
  frame (books carry an ISBN and a price code), so it is neither correct nor wrong;
- a psibot result flagged ambiguous counts as "unsure": the bot asks the user, nothing is booked.

--full-frames places every photo at a realistic scale (a seeded random 22-50% of the long side) on a
seeded 4032x3024 background (uneven light, panels, print-like marks, grain) and encodes the frame as JPEG, as a 12 MP phone would send it.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import zxingcpp  # noqa: E402
from PIL import Image, ImageChops, ImageDraw, ImageFilter  # noqa: E402
from pyzbar import pyzbar  # noqa: E402

from core.barcode_reader import decode_image  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "bench" / "barcodes"
FRAME_SIZE = (4032, 3024)
FRAME_SEED = 20240601


@dataclass(frozen=True)
class Photo:
    set_name: str
    path: Path
    expected: str


@dataclass(frozen=True)
class Outcome:
    texts: tuple[str, ...]
    unsure: bool
    ms: float


@dataclass
class Tally:
    images: int = 0
    correct: int = 0
    wrong: int = 0
    wrong_retail: int = 0
    unsure: int = 0
    missed: int = 0
    times: list[float] = field(default_factory=list)

    def add(self, outcome: Outcome, expected: str, same_set: set[str]) -> None:
        self.images += 1
        self.times.append(outcome.ms)
        found = {canonical(text) for text in outcome.texts}
        if outcome.unsure:
            self.unsure += 1
            return
        wrong = found - {expected} - same_set
        self.correct += expected in found
        self.wrong += bool(wrong)
        self.wrong_retail += any(text.isdigit() and len(text) in (8, 13) for text in wrong)
        self.missed += expected not in found and not wrong

    def row(self, label: str) -> str:
        times = sorted(self.times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        percent = 100 * self.correct / self.images
        return (
            f"| {label} | {self.images} | {self.correct} ({percent:.1f}%) | {self.wrong} ({self.wrong_retail}) "
            f"| {self.unsure} | {self.missed} | {statistics.median(times):.1f} | {p95:.1f} |"
        )


def canonical(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return "0" + text if len(text) == 12 and text.isdigit() else text


def load_photos(data_dir: Path, wanted_sets: set[str] | None) -> list[Photo]:
    photos = []
    for set_dir in sorted(path for path in data_dir.iterdir() if path.is_dir()):
        if wanted_sets and set_dir.name not in wanted_sets:
            continue
        with (set_dir / "manifest.csv").open(encoding="utf-8", newline="") as manifest:
            for row in csv.DictReader(manifest):
                photos.append(Photo(set_dir.name, set_dir / row["file"], row["expected_text"]))
    return photos


def run_psibot(data: bytes) -> Outcome:
    started = time.thread_time()
    result = decode_image(data)
    ms = (time.thread_time() - started) * 1000
    return Outcome(tuple(code.text for code in result.codes), result.ambiguous, ms)


def run_pyzbar(data: bytes) -> Outcome:
    started = time.thread_time()
    found = pyzbar.decode(Image.open(io.BytesIO(data)).convert("L"))
    ms = (time.thread_time() - started) * 1000
    return Outcome(tuple(symbol.data.decode("utf-8", "replace") for symbol in found), False, ms)


def run_zxing(data: bytes) -> Outcome:
    started = time.thread_time()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    ms = (time.thread_time() - started) * 1000
    return Outcome(tuple(symbol.text for symbol in found), False, ms)


DECODERS: dict[str, Callable[[bytes], Outcome]] = {
    "psibot": run_psibot,
    "pyzbar": run_pyzbar,
    "zxing-cpp": run_zxing,
}


def _background(rng: random.Random) -> Image.Image:
    """What surrounds a label in a warehouse photo: uneven light, panels and print, and sensor grain."""
    width, height = FRAME_SIZE
    light = Image.frombytes("L", (16, 12), rng.randbytes(16 * 12)).point(
        lambda value: 90 + value * 140 // 255
    )
    scene = light.resize(FRAME_SIZE, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(scene)
    for _ in range(8):
        left, top = rng.randrange(width), rng.randrange(height)
        right, bottom = left + rng.randrange(200, 1600), top + rng.randrange(200, 1200)
        draw.rectangle((left, top, right, bottom), fill=rng.randrange(40, 230))
    for _ in range(60):
        left, top = rng.randrange(width), rng.randrange(height)
        glyph_height = rng.randrange(12, 48)
        for glyph in range(rng.randrange(5, 30)):
            x = left + glyph * glyph_height * 3 // 4
            draw.rectangle((x, top, x + glyph_height // 2, top + glyph_height), fill=rng.randrange(0, 90))
    grain_size = (width // 4, height // 4)
    grain = Image.frombytes("L", grain_size, rng.randbytes(grain_size[0] * grain_size[1]))
    grain = grain.resize(FRAME_SIZE, Image.Resampling.BILINEAR)
    return ImageChops.blend(scene, grain, 0.08).filter(ImageFilter.GaussianBlur(1)).convert("RGB")


def full_frame(photo: Photo, data: bytes) -> bytes:
    """The photo placed at a realistic scale and position in a 12 MP frame, deterministic per photo."""
    rng = random.Random(FRAME_SEED + zlib.crc32(f"{photo.set_name}/{photo.path.name}".encode()))
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    long_side = round(FRAME_SIZE[0] * rng.uniform(0.22, 0.5))
    ratio = long_side / max(picture.size)
    picture = picture.resize(
        (round(picture.width * ratio), round(picture.height * ratio)), Image.Resampling.BICUBIC
    )
    frame = _background(rng)
    left = rng.randrange(0, FRAME_SIZE[0] - picture.width + 1)
    top = rng.randrange(0, FRAME_SIZE[1] - picture.height + 1)
    frame.paste(picture, (left, top))
    encoded = io.BytesIO()
    frame.save(encoded, "JPEG", quality=90)
    return encoded.getvalue()


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run(photos: Iterable[Photo], decoders: list[str], full_frames: bool) -> dict[str, dict[str, Tally]]:
    photos = list(photos)
    truth_by_set: dict[str, set[str]] = {}
    for photo in photos:
        truth_by_set.setdefault(photo.set_name, set()).add(canonical(photo.expected))
    tallies: dict[str, dict[str, Tally]] = {name: {} for name in decoders}
    for photo in photos:
        data = photo.path.read_bytes()
        if full_frames:
            data = full_frame(photo, data)
        expected = canonical(photo.expected)
        others = truth_by_set[photo.set_name] - {expected}
        for name in decoders:
            outcome = DECODERS[name](data)
            for key in (photo.set_name, "overall"):
                tallies[name].setdefault(key, Tally()).add(outcome, expected, others)
    return tallies


def report(tallies: dict[str, dict[str, Tally]], full_frames: bool) -> str:
    kind = "full-size 4032x3024 JPEG frames" if full_frames else "the photos as stored"
    lines = [f"{datetime.now(UTC).date().isoformat()}, {os.cpu_count()} cores (pinned to one), {kind}", ""]
    for name, by_set in tallies.items():
        lines += [
            f"**{name}**",
            "",
            "| set | images | correct | wrong (EAN/UPC) | unsure | missed | median ms | p95 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [by_set[key].row(key) for key in sorted(by_set) if key != "overall"]
        lines += [by_set["overall"].row("**overall**"), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-frames", action="store_true", help="embed each photo in a 12 MP frame")
    parser.add_argument("--sets", help="comma-separated set names (default: all)")
    parser.add_argument(
        "--decoders", default=",".join(DECODERS), help="comma-separated: " + ",".join(DECODERS)
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder of sets (default: %(default)s)")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no benchmark data at {args.data}", file=sys.stderr)
        return 2
    pin_to_one_core()
    wanted_sets = set(args.sets.split(",")) if args.sets else None
    decoders = args.decoders.split(",")
    print(report(run(load_photos(args.data, wanted_sets), decoders, args.full_frames), args.full_frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
