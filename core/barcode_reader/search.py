"""Which image variants to try, in what order, and when a read is believable enough to stop.

The plan is ordered by measured payoff per millisecond on real phone photos (see bench/barcodes.py):
the plain picture read by both engines settles most photos in a few milliseconds; enlarging,
sharpening, thresholding and rotating are tried only while nothing has been confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import zxingcpp
from PIL import Image, ImageChops, ImageFilter, ImageOps

from core.barcode_reader.engines import (
    CODE_128,
    EAN_13,
    QR,
    RETAIL_FORMATS,
    UPC_A,
    Read,
    zbar_reads,
    zxing_reads,
)

FIRST_PASS_LONG_SIDE = 1024
SMALL_LONG_SIDE = 800
"""Photos this small are usually a tight crop whose bars are only 1-2 px wide: enlarging helps both engines."""

SELF_CHECKED_FORMATS = frozenset({QR, CODE_128})
"""Reed-Solomon (QR) and the mod-103 check (Code 128) make a single zxing read trustworthy."""

SINGLE_ENGINE_VOTES = 3
"""zxing alone must see the same EAN/UPC in this many different variants, with no rival read."""


@dataclass
class Candidate:
    format: str
    text: str
    normalized: str
    first_seen: int
    engines: set[str] = field(default_factory=set)
    variants: set[str] = field(default_factory=set)


@dataclass
class Evidence:
    """Every distinct code seen so far, with which engines and variants saw it."""

    known: Callable[[str], bool] | None
    candidates: dict[str, Candidate] = field(default_factory=dict)

    def add(self, variant: str, reads: list[Read]) -> None:
        for read in reads:
            candidate = self.candidates.get(read.normalized)
            if candidate is None:
                candidate = Candidate(read.format, read.text, read.normalized, len(self.candidates))
                self.candidates[read.normalized] = candidate
            candidate.engines.add(read.engine)
            candidate.variants.add(variant)
            if read.engine == "zxing":
                # zxing decodes character sets (Shift-JIS, FNC4) correctly where zbar guesses.
                candidate.text, candidate.format = read.text, read.format

    def confirmed(self) -> list[Candidate]:
        return [candidate for candidate in self.candidates.values() if self._is_confirmed(candidate)]

    def _is_confirmed(self, candidate: Candidate) -> bool:
        if len(candidate.engines) == 2:
            return True
        if self.known is not None and self.known(candidate.normalized):
            return True
        if candidate.engines != {"zxing"}:
            return False
        if candidate.format in SELF_CHECKED_FORMATS:
            return True
        return (
            candidate.format in (EAN_13, UPC_A)
            and len(candidate.variants) >= SINGLE_ENGINE_VOTES
            and not any(
                other is not candidate and other.format in RETAIL_FORMATS for other in self.candidates.values()
            )
        )


def _resized(image: Image.Image, long_side: int) -> Image.Image:
    ratio = long_side / max(image.size)
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    resample = Image.Resampling.BOX if ratio < 1 else Image.Resampling.BICUBIC
    return image.resize(size, resample)


def _local_threshold(image: Image.Image) -> Image.Image:
    """Black where darker than the neighbourhood: evens out glare and shadows across a label."""
    radius = max(8, min(image.size) // 16)
    background = image.filter(ImageFilter.BoxBlur(radius))
    difference = ImageChops.subtract(image, background, scale=1, offset=128)
    return difference.point(lambda value: 255 if value >= 126 else 0)


def _rotated(degrees: float) -> Callable[[Image.Image], Image.Image]:
    """zbar scans only rows and columns; a code tilted near 45 degrees needs the picture turned."""

    def rotate(image: Image.Image) -> Image.Image:
        return image.rotate(degrees, Image.Resampling.BILINEAR, expand=True, fillcolor=255)

    return rotate


def _unsharp(image: Image.Image) -> Image.Image:
    """Motion and focus blur merge thin bars; unsharp masking separates them again."""
    return image.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3))


@dataclass(frozen=True)
class Step:
    variant: str
    engine: str


class Views:
    """The image variants, each made once and only when a step needs it."""

    def __init__(self, gray: Image.Image) -> None:
        self._cache: dict[str, Image.Image] = {}
        self._makers: dict[str, Callable[[], Image.Image]] = {
            "plain": lambda: gray if max(gray.size) <= FIRST_PASS_LONG_SIDE else _resized(gray, FIRST_PASS_LONG_SIDE),
            "full": lambda: gray,
            "enlarged": lambda: _resized(gray, 2 * max(gray.size)),
            "sharpened": lambda: _unsharp(self.get("plain")),
            "sharpened-enlarged": lambda: _unsharp(self.get("enlarged")),
            "contrast": lambda: ImageOps.autocontrast(self.get("plain"), cutoff=2),
            "local-threshold": lambda: _local_threshold(self.get("plain")),
            "inverted": lambda: ImageOps.invert(self.get("plain")),
            "rotated+20": lambda: _rotated(20)(self.get("plain")),
            "rotated-20": lambda: _rotated(-20)(self.get("plain")),
            "rotated+45": lambda: _rotated(45)(self.get("plain")),
            "rotated-45": lambda: _rotated(-45)(self.get("plain")),
        }

    def get(self, variant: str) -> Image.Image:
        if variant not in self._cache:
            self._cache[variant] = self._makers[variant]()
        return self._cache[variant]


def plan_for(gray: Image.Image) -> list[Step]:
    """Steps cheapest-and-likeliest first; which ones apply depends on the photo's size."""
    long_side = max(gray.size)
    variants = ["plain"]
    if long_side > FIRST_PASS_LONG_SIDE:
        variants.append("full")
    if long_side <= SMALL_LONG_SIDE:
        variants += ["enlarged", "sharpened-enlarged"]
    variants += ["sharpened", "contrast", "local-threshold", "rotated+20", "rotated-20", "rotated+45", "rotated-45"]
    steps = [Step(variant, engine) for variant in variants for engine in ("zxing", "zbar")]
    steps.append(Step("inverted", "zbar"))  # zxing already tries the inverted picture itself
    steps.append(Step("plain", "zxing-global"))
    return steps


def run_step(step: Step, views: Views) -> list[Read]:
    image = views.get(step.variant)
    if step.engine == "zbar":
        return zbar_reads(image)
    if step.engine == "zxing-global":
        return zxing_reads(image, binarizer=zxingcpp.Binarizer.GlobalHistogram)
    return zxing_reads(image)


def search(gray: Image.Image, *, known: Callable[[str], bool] | None, deadline: float) -> Evidence:
    """Run the plan until a code is confirmed, the plan ends, or `deadline` (perf_counter) passes."""
    evidence = Evidence(known)
    views = Views(gray)
    for step in plan_for(gray):
        if time.perf_counter() >= deadline:
            break
        evidence.add(f"{step.variant}/{step.engine}", run_step(step, views))
        if evidence.confirmed():
            break
    return evidence
