"""One reading of typed text: what chat messages and stored names are compared as.

`bot.parser.fold` reads every chat message through `normalize`, and the catalog's search keys
(`core.catalog.fold`) are built with it, so a name imported as 可口可樂 is found by 可乐, 可樂 or kkkl.
"""

from __future__ import annotations

import re
import unicodedata

import opencc

# Built once: a converter loads its dictionaries (~0.2 ms); converting a message then costs about a microsecond.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
# Emoji and other pictographs (So), skin tones (Sk), keycaps (Me), joiners and tags (Cf), private use (Co):
# never part of a product's or customer's name. The degree sign may be, and stays (52° 白酒; ℃ folds to °c).
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Me", "Cf", "Co"})
VARIATION_SELECTORS = frozenset(chr(code) for code in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)))
_SPACES = re.compile(r" {2,}")


def _is_symbol(char: str) -> bool:
    return char != "°" and (unicodedata.category(char) in _SYMBOL_CATEGORIES or char in VARIATION_SELECTORS)


def _without_symbols(text: str) -> str:
    """Each run of symbols becomes one space: `可乐👍` is 可乐, and `可乐10箱👍雪碧5瓶` is still two lines."""
    spaced = "".join(" " if _is_symbol(char) else char for char in text)
    return text if spaced == text else _SPACES.sub(" ", spaced)


def normalize(text: str) -> str:
    """Full-width to half-width, traditional to simplified Chinese (庫存 → 库存, 可樂 → 可乐), no emoji,
    lower case: one spelling per meaning. Spaces stay (the parser splits on them)."""
    normal = unicodedata.normalize("NFKC", text)
    if normal.isascii():  # most SKUs, codes and English commands: nothing to convert
        return normal.lower()
    return _TO_SIMPLIFIED.convert(_without_symbols(normal)).lower()
