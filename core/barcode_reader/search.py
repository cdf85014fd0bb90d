"""Which image variants to try, in what order, and when a read is believable enough to stop.

The order was measured on real phone photos (see bench/barcodes.py): the plain picture settles most
photos in a few milliseconds; enlarging, thresholding, inverting and rotating are tried only while
nothing is confirmed. When one engine finds a code, the other is pointed at a crop around it, which
confirms a code in a 12 MP frame for a few milliseconds instead of a full-frame scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import zxingcpp
from PIL import Image, ImageChops, ImageFilter, ImageOps

from core.barcode_reader.engines import CODE_128, QR, Box, Read, zbar_reads, zxing_reads

FIRST_PASS_LONG_SIDE = 1024
SMALL_LONG_SIDE = 800
"""Photos this small are usually a tight crop whose bars are only 1-2 px wide: enlarging helps both engines."""

SELF_CHECKED_FORMATS = frozenset({QR, CODE_128})
"""Reed-Solomon (QR) and the mod-103 check (Code 128) make a single zxing read trustworthy; zbar guesses
character sets and ignores FNC4, so its text of these formats still needs zxing's agreement."""

ZBAR, ZXING, ZXING_GLOBAL = "zbar", "zxing", "zxing-global"
"""zxing-global: zxing with a whole-image threshold, which survives blur that defeats its local one."""

PRIOR_MS_PER_MEGAPIXEL = {ZBAR: 150.0, ZXING: 60.0, ZXING_GLOBAL: 40.0}
"""Cost guesses for a step before this photo has shown its own; cluttered photos cost several times more."""

PREPARE_MS_PER_MEGAPIXEL = 25.0
"""Making a variant (rotating, thresholding) before an engine sees it."""

CROP_MARGIN = 0.35
CROP_MAX_LONG_SIDE = 800


@dataclass
class Candidate:
    format: str
    text: str
    normalized: str
    first_seen: int
    engines: set[str] = field(default_factory=set)
    variants: set[str] = field(default_factory=set)
    box: Box | None = None
    crop_checked: bool = False


@dataclass
class Evidence:
    """Every distinct code seen so far, with which engines and variants saw it."""

    known: Callable[[str], bool] | None
    candidates: dict[str, Candidate] = field(default_factory=dict)
    _catalog_answers: dict[str, bool] = field(default_factory=dict)

    def add(self, variant: str, reads: list[Read]) -> None:
        for read in reads:
            candidate = self.candidates.get(read.normalized)
            if candidate is None:
                candidate = Candidate(read.format, read.text, read.normalized, len(self.candidates))
                self.candidates[read.normalized] = candidate
            candidate.engines.add(read.engine)
            candidate.variants.add(variant)
            if read.engine == ZXING:
                # zxing decodes character sets (Shift-JIS, FNC4) correctly where zbar guesses.
                candidate.text, candidate.format = read.text, read.format
            if candidate.box is None:
                candidate.box = read.box

    def confirmed(self) -> list[Candidate]:
        return [candidate for candidate in self.candidates.values() if self.is_confirmed(candidate)]

    def is_confirmed(self, candidate: Candidate) -> bool:
        if len(candidate.engines) == 2:
            return True
        if self._in_catalog(candidate.normalized):
            return True
        return candidate.engines == {ZXING} and candidate.format in SELF_CHECKED_FORMATS

    def _in_catalog(self, normalized: str) -> bool:
        """Asks `known` once per code: it may be a database lookup."""
        if normalized not in self._catalog_answers:
            self._catalog_answers[normalized] = bool(self.known and self.known(normalized))
        return self._catalog_answers[normalized]


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

    def megapixels(self, variant: str) -> float:
        """Size of a variant without making it: every variant derives from the plain or full image."""
        plain_megapixels = self._cache["plain"].width * self._cache["plain"].height / 1e6
        if variant == "full":
            return self._cache["full"].width * self._cache["full"].height / 1e6
        if variant == "enlarged-1.5":
            return 2.25 * plain_megapixels
        if variant in ("enlarged-2", "local-threshold-enlarged"):
            return 4 * plain_megapixels
        if variant.startswith("rotated"):
            return 1.6 * plain_megapixels
        return plain_megapixels


def plan_for(gray: Image.Image) -> list[Step]:
    """Steps in the order that, on the benchmark photos, confirmed the most codes per millisecond.

    A variant that only one engine reads is there because the other engine's read of it rarely added
    anything; confirmation still pairs reads from different variants.
    """
    long_side = max(gray.size)
    steps = [Step("plain", ZXING)]
    if long_side > FIRST_PASS_LONG_SIDE:
        steps.append(Step("full", ZXING))
    steps += [
        Step("plain", ZBAR),
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
    if long_side > FIRST_PASS_LONG_SIDE:
        steps.append(Step("full", ZBAR))
    return steps


def _run_engine(engine: str, image: Image.Image) -> list[Read]:
    if engine == ZBAR:
        return zbar_reads(image)
    if engine == ZXING_GLOBAL:
        return zxing_reads(image, binarizer=zxingcpp.Binarizer.GlobalHistogram)
    return zxing_reads(image)


def _crop_around(image: Image.Image, box: Box) -> Image.Image:
    """The region of `box` with a margin for the quiet zone."""
    left, top, right, bottom = box
    margin_x = (right - left) * CROP_MARGIN + 0.02
    margin_y = (bottom - top) * CROP_MARGIN + 0.02
    return image.crop(
        (
            round(max(0.0, left - margin_x) * image.width),
            round(max(0.0, top - margin_y) * image.height),
            round(min(1.0, right + margin_x) * image.width),
            round(min(1.0, bottom + margin_y) * image.height),
        )
    )


class _Clock:
    """Predicts a step's cost from this photo's own measured speed, so the budget is kept, not overrun.

    It counts this thread's CPU time: the same photo gets the same answer however busy the server is.
    """

    def __init__(self, cpu_deadline: float) -> None:
        self.cpu_deadline = cpu_deadline
        self.ms_per_megapixel = dict(PRIOR_MS_PER_MEGAPIXEL)

    def fits(self, engine: str, megapixels: float) -> bool:
        predicted_seconds = (self.ms_per_megapixel[engine] + PREPARE_MS_PER_MEGAPIXEL) * megapixels / 1000
        return time.thread_time() + predicted_seconds < self.cpu_deadline

    def timed(self, engine: str, image: Image.Image) -> list[Read]:
        started = time.thread_time()
        reads = _run_engine(engine, image)
        elapsed_ms = (time.thread_time() - started) * 1000
        self.ms_per_megapixel[engine] = elapsed_ms / max(image.width * image.height / 1e6, 0.01)
        return reads


def _without_boxes(reads: list[Read]) -> list[Read]:
    """Boxes found in a turned picture or a crop would point at the wrong place of the full image."""
    return [replace(read, box=None) for read in reads]


def _crop_looks(crop: Image.Image) -> Iterator[Image.Image]:
    """A few cheap looks at the crop, made only as needed: as it is, enlarged, and thresholded."""
    yield crop
    enlarged = _resized(crop, min(2 * max(crop.size), CROP_MAX_LONG_SIDE))
    yield enlarged
    yield _local_threshold(enlarged)


def _check_by_crop(evidence: Evidence, views: Views, clock: _Clock) -> None:
    """Point the engine that has not seen a candidate at the spot where the other one saw it."""
    full = views.get("full")
    for candidate in list(evidence.candidates.values()):
        if candidate.crop_checked or candidate.box is None or evidence.is_confirmed(candidate):
            continue
        candidate.crop_checked = True
        other_engine = ZBAR if ZXING in candidate.engines else ZXING
        for look in _crop_looks(_crop_around(full, candidate.box)):
            if not clock.fits(other_engine, look.width * look.height / 1e6):
                break
            evidence.add(f"crop/{other_engine}", _without_boxes(clock.timed(other_engine, look)))
            if len(candidate.engines) == 2:
                break


def search_codes(gray: Image.Image, *, known: Callable[[str], bool] | None, cpu_deadline: float) -> Evidence:
    """Run the plan until a code is confirmed, the plan ends, or `cpu_deadline` (thread_time) would pass."""
    evidence = Evidence(known)
    views = Views(gray)
    clock = _Clock(cpu_deadline)
    for step in plan_for(gray):
        if not clock.fits(step.engine, views.megapixels(step.variant)):
            continue
        reads = clock.timed(step.engine, views.get(step.variant))
        if step.variant.startswith("rotated"):
            reads = _without_boxes(reads)
        evidence.add(f"{step.variant}/{step.engine}", reads)
        # Also before stopping, so that every code in a multi-code frame gets its second opinion.
        _check_by_crop(evidence, views, clock)
        if evidence.confirmed():
            break
    return evidence
