"""Read product barcodes from phone photos sent to the bot.

A wrong read books stock against the wrong product, so a code is returned as certain only when two
independent decoders agree, the catalog knows it, or its symbology carries strong error detection;
anything weaker comes back flagged `ambiguous` for the user to confirm.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.barcode_reader.loading import ImageError, load_grayscale
from core.barcode_reader.search import Candidate, search_codes

__all__ = ["Code", "ImageError", "ScanResult", "barcode_cli", "decode_image", "read_barcodes"]

DEFAULT_BUDGET_MS = 450
"""CPU time per photo, decoding included; a 12 MP frame must still answer well inside a chat round-trip."""


@dataclass(frozen=True)
class Code:
    format: str
    text: str
    normalized: str
    """The form the catalog stores (EAN-13 for UPC-A, the GTIN inside GS1 QR data)."""


@dataclass(frozen=True)
class ScanResult:
    codes: tuple[Code, ...]
    ambiguous: bool
    """True when codes were seen but none could be confirmed: ask the user instead of booking stock."""
    elapsed_ms: float


def _ranked(candidates: list[Candidate]) -> tuple[Code, ...]:
    best_first = sorted(candidates, key=lambda candidate: (-len(candidate.variants), candidate.first_seen))
    return tuple(Code(candidate.format, candidate.text, candidate.normalized) for candidate in best_first)


def decode_image(
    data: bytes, *, known: Callable[[str], bool] | None = None, budget_ms: int = DEFAULT_BUDGET_MS
) -> ScanResult:
    """Decode the barcodes in image bytes (JPEG, PNG, WebP, HEIC...). Raises ImageError for bad input."""
    started = time.perf_counter()
    started_cpu = time.thread_time()
    gray = load_grayscale(data)
    evidence = search_codes(gray, known=known, cpu_deadline=started_cpu + budget_ms / 1000)
    confirmed = evidence.confirmed()
    seen = list(evidence.candidates.values())
    codes = _ranked(confirmed or seen)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return ScanResult(codes=codes, ambiguous=bool(seen) and not confirmed, elapsed_ms=round(elapsed_ms, 1))


async def read_barcodes(
    data: bytes, *, known: Callable[[str], bool] | None = None, budget_ms: int = DEFAULT_BUDGET_MS
) -> ScanResult:
    """decode_image in a worker thread, so a slow photo never stalls the bot's event loop."""
    return await asyncio.to_thread(decode_image, data, known=known, budget_ms=budget_ms)


def barcode_cli(paths: list[str]) -> int:
    """Print one JSON line per file; exit code 1 when any file could not be read as an image."""
    exit_code = 0
    for path in paths:
        started = time.perf_counter()
        line: dict[str, object] = {"file": path}
        try:
            result = decode_image(Path(path).read_bytes())
        except (ImageError, OSError) as error:
            line["error"] = str(error) if isinstance(error, ImageError) else f"无法读取文件: {error.strerror}"
            exit_code = 1
        else:
            line["codes"] = [{"format": code.format, "text": code.text} for code in result.codes]
            if result.ambiguous:
                line["ambiguous"] = True
        line["ms"] = round((time.perf_counter() - started) * 1000, 1)
        print(json.dumps(line, ensure_ascii=False), file=sys.stdout, flush=True)
    return exit_code
