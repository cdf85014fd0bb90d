"""End-to-end tests run psibot whole; the only thing loosened is the barcode decoder's time budget."""

from __future__ import annotations

import functools

import pytest

import bot.handlers.photo
from core.barcode_reader import read_barcodes


@pytest.fixture(autouse=True)
def unhurried_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoder stops at a wall-clock budget (450 ms) and then reports no barcode; on a busy test
    machine a clean photo can miss it. These tests are about the platform path, not decoding speed."""
    monkeypatch.setattr(
        bot.handlers.photo, "read_barcodes", functools.partial(read_barcodes, budget_ms=10_000)
    )
