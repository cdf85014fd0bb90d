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
    QR,
    Read,
    zbar_reads,
    zxing_reads,
)

FIRST_PASS_LONG_SIDE = 1024
SMALL_LONG_SIDE = 800
"""Photos this small are usually a tight crop whose bars are only 1-2 px wide: enlarging helps both engines."""

SELF_CHECKED_FORMATS = frozenset({QR, CODE_128})
"""Reed-Solomon (QR) and the mod-103 check (Code 128) make a single zxing read trustworthy."""


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
        return candidate.engines == {"zxing"} and candidate.format in SELF_CHECKED_FORMATS


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


def _rotated(image: Image.Image, degrees: float) -> Image.Image:
    """Both engines lose linear codes tilted far from the rows and columns they scan."""
    return image.rotate(degrees, Image.Resampling.BILINEAR, expand=True, fillcolor=255)


def _unsharp(image: Image.Image) -> Image.Image:
    """Motion and focus blur merge thin bars; unsharp masking separates them again."""
    return image.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3))


@dataclass(frozen=True)
class Step:
    variant: str
    engine: str
    """ZBAR, ZXING or ZXING_GLOBAL."""


class Views:
    """The image variants, each made once and only when a step needs it."""

    def __init__(self, gray: Image.Image) -> None:
        plain = gray if max(gray.size) <= FIRST_PASS_LONG_SIDE else _resized(gray, FIRST_PASS_LONG_SIDE)
        long_side = max(plain.size)
        self._cache: dict[str, Image.Image] = {"plain": plain, "full": gray}
        self._makers: dict[str, Callable[[], Image.Image]] = {
            "enlarged-1.5": lambda: _resized(plain, long_side * 3 // 2),
            "enlarged-2": lambda: _resized(plain, long_side * 2),
            "sharpened": lambda: _unsharp(plain),
            "contrast": lambda: ImageOps.autocontrast(plain, cutoff=2),
            "local-threshold": lambda: _local_threshold(plain),
            "local-threshold-enlarged": lambda: _local_threshold(self.get("enlarged-2")),
            "inverted": lambda: ImageOps.invert(plain),
            "rotated+20": lambda: _rotated(plain, 20),
            "rotated-20": lambda: _rotated(plain, -20),
            "rotated+45": lambda: _rotated(plain, 45),
            "rotated-45": lambda: _rotated(plain, -45),
        }

    def get(self, variant: str) -> Image.Image:
        if variant not in self._cache:
            self._cache[variant] = self._makers[variant]()
        return self._cache[variant]


ZBAR, ZXING, ZXING_GLOBAL = "zbar", "zxing", "zxing-global"
"""zxing-global: zxing with a whole-image threshold, which survives blur that defeats its local one."""


def plan_for(gray: Image.Image) -> list[Step]:
    """Steps in the order that, on the benchmark photos, confirmed the most codes per millisecond.

    A step that only one engine runs is there because the other engine's read of that variant rarely
    added anything; confirmation can still pair reads from different variants.
    """
    long_side = max(gray.size)
    steps = [Step("plain", ZXING), Step("plain", ZBAR)]
    if long_side > FIRST_PASS_LONG_SIDE:
        steps += [Step("full", ZXING), Step("full", ZBAR)]
    steps += [
        Step("local-threshold", ZXING),
        Step("local-threshold", ZBAR),
        Step("contrast", ZXING_GLOBAL),
        Step("sharpened", ZXING_GLOBAL),
        Step("inverted", ZBAR),
        Step("inverted", ZXING_GLOBAL),
        Step("rotated-20", ZXING_GLOBAL),
    ]
    if long_side <= SMALL_LONG_SIDE:
        steps += [
            Step("local-threshold-enlarged", ZBAR),
            Step("local-threshold-enlarged", ZXING_GLOBAL),
            Step("enlarged-1.5", ZXING_GLOBAL),
            Step("enlarged-1.5", ZBAR),
            Step("enlarged-2", ZXING_GLOBAL),
        ]
    steps += [
        Step(variant, engine)
        for variant in ("rotated+20", "rotated+45", "rotated-45")
        for engine in (ZXING, ZBAR)
    ]
    steps += [Step("rotated-20", ZBAR), Step("sharpened", ZBAR), Step("contrast", ZBAR)]
    return steps


def run_step(step: Step, views: Views) -> list[Read]:
    image = views.get(step.variant)
    if step.engine == ZBAR:
        return zbar_reads(image)
    if step.engine == ZXING_GLOBAL:
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
