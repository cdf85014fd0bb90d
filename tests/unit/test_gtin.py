"""GTIN rules: check digits are enforced, UPC-A and EAN-13 meet in one form, GS1 data yields its GTIN."""

from __future__ import annotations

import pytest

from core.gtin import (
    BarcodeError,
    clean_text,
    expand_upce,
    gs1_check_digit,
    gtin_from_gs1,
    has_valid_check_digit,
    lookup_forms,
    normalize_barcode,
    symbology_of,
)


@pytest.mark.parametrize(
    ("body", "check"),
    [("690123456789", 2), ("03600029145", 2), ("9638507", 4), ("1234567", 0), ("0950600013435", 2)],
)
def test_check_digit_of_known_codes(body: str, check: int) -> None:
    assert gs1_check_digit(body) == check
    assert has_valid_check_digit(body + str(check))
    assert not has_valid_check_digit(body + str((check + 1) % 10))


@pytest.mark.parametrize("text", ["", "1", "12a4", "６９０１２３４５６７８９２"])
def test_check_digit_rejects_non_codes(text: str) -> None:
    assert not has_valid_check_digit(text)


def test_upca_and_ean13_with_leading_zero_are_one_code() -> None:
    assert normalize_barcode("036000291452") == "0036000291452"
    assert normalize_barcode("0036000291452") == "0036000291452"
    assert normalize_barcode("00036000291452") == "0036000291452"  # GTIN-14 with indicator 0


def test_wrong_check_digit_is_rejected_not_corrected() -> None:
    with pytest.raises(BarcodeError, match="校验位"):
        normalize_barcode("6901234567891")


def test_typed_codes_are_cleaned() -> None:
    assert clean_text(" ６９０1234-567 892 ") == "6901234567892"
    assert normalize_barcode("６９０１２３４５６７８９２") == "6901234567892"
    assert normalize_barcode("ABC-123") == "ABC-123"
    with pytest.raises(BarcodeError):
        normalize_barcode("  ")


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("01234565", "012345000065"),  # last digit 5: manufacturer 5 digits, product last
        ("04252614", "042100005264"),  # last digit 1
        ("01234133", "012300000413"),  # last digit 3
        ("01234146", "012340000016"),  # last digit 4
    ],
)
def test_upce_expansion(upce: str, upca: str) -> None:
    assert expand_upce(upce) == upca


def test_upce_must_start_with_0_or_1() -> None:
    with pytest.raises(BarcodeError):
        expand_upce("21234565")


def test_lookup_forms_include_the_expanded_upce() -> None:
    assert lookup_forms("01234565") == ["01234565", "0012345000065"]
    assert lookup_forms("6901234567891") == []


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352(17)201225",
        "0109506000134352",
        "\x1d0109506000134352",
        "https://id.gs1.org/01/09506000134352/10/ABC123",
        "https://example.com/01/9506000134352?x=1",
    ],
)
def test_gtin_from_gs1_data(text: str) -> None:
    assert gtin_from_gs1(text) == "9506000134352"


@pytest.mark.parametrize(
    "text",
    [
        "31001171800000017989625355702636",  # a Code 128 that merely starts with 14 digits
        "(01)09506000134353",  # bad check digit
        "https://example.com/product/42",
        "hello",
    ],
)
def test_gtin_from_gs1_finds_nothing_without_gs1_data(text: str) -> None:
    assert gtin_from_gs1(text) is None


def test_gtin8_inside_gtin14_keeps_eight_digits() -> None:
    assert gtin_from_gs1("(01)00000096385074") == "96385074"


def test_symbology_guess() -> None:
    assert symbology_of("0036000291452") == "UPC-A"
    assert symbology_of("6901234567892") == "EAN-13"
    assert symbology_of("96385074") == "EAN-8"
    assert symbology_of("ABC-123") == "CODE-128"
