"""Barcode text rules shared by the catalog and the photo decoder.

Retail codes (EAN-13, EAN-8, UPC-A, UPC-E) carry a check digit; a code whose check digit is wrong is
rejected, never "corrected". UPC-A is stored in its EAN-13 form (a leading 0) so that either spelling
finds the same product.
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = re.compile(r"[0-9]+")


class BarcodeError(ValueError):
    """A barcode text that cannot be a valid code; the message is fit to show a user."""


def gs1_check_digit(body: str) -> int:
    """Check digit of a GS1 number (EAN/UPC/GTIN) given without its last digit."""
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        total += digit * 3 if position % 2 == 0 else digit
    return (10 - total % 10) % 10


def has_valid_check_digit(code: str) -> bool:
    return bool(_DIGITS.fullmatch(code)) and len(code) >= 2 and gs1_check_digit(code[:-1]) == int(code[-1])


def expand_upce(code: str) -> str:
    """UPC-E (8 digits: number system, 6 data digits, check) to its 12-digit UPC-A form."""
    if len(code) != 8 or not code.isdigit() or code[0] not in "01":
        raise BarcodeError(f"UPC-E 条码应为 0 或 1 开头的 8 位数字: {code}")
    system, data, check = code[0], code[1:7], code[7]
    last = data[5]
    if last in "012":
        body = data[0:2] + last + "0000" + data[2:5]
    elif last == "3":
        body = data[0:3] + "00000" + data[3:5]
    elif last == "4":
        body = data[0:4] + "00000" + data[4]
    else:
        body = data[0:5] + "0000" + last
    return system + body + check


def clean_text(text: str) -> str:
    """Fold full-width characters and drop spaces and dashes a person may type inside a code."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if _DIGITS.fullmatch(re.sub(r"[\s-]", "", folded)):
        return re.sub(r"[\s-]", "", folded)
    return folded


def normalize_barcode(text: str) -> str:
    """The canonical form under which a code is stored and looked up.

    Numeric codes of retail lengths must have a valid check digit; UPC-A (12) and GTIN-14 with a
    leading 0 become EAN-13, UPC-E is expanded. Other text (Code 128, QR) is kept as written.
    """
    code = clean_text(text)
    if not code:
        raise BarcodeError("条码不能为空")
    if not code.isdigit():
        return code
    if len(code) in (8, 12, 13, 14) and not has_valid_check_digit(code):
        raise BarcodeError(f"条码校验位不对: {code}")
    if len(code) == 12:
        return "0" + code
    if len(code) == 14 and code.startswith("0"):
        return code[1:]
    return code


def lookup_forms(text: str) -> list[str]:
    """Every stored form a scanned or typed code may match (best first); never raises."""
    try:
        primary = normalize_barcode(text)
    except BarcodeError:
        return []
    forms = [primary]
    if len(primary) == 8 and primary[0] in "01":
        try:
            forms.append("0" + expand_upce(primary))
        except BarcodeError:
            pass
    return forms


def symbology_of(code: str) -> str:
    """A best guess at the symbology of a normalised code, for display and storage."""
    if code.isdigit() and has_valid_check_digit(code):
        if len(code) == 13:
            return "UPC-A" if code.startswith("0") else "EAN-13"
        if len(code) == 8:
            return "EAN-8"
    return "CODE-128" if code.isascii() and len(code) <= 48 else "QR"


_GS1_GTIN = re.compile(r"(?:\(01\)|\x1d01|^01)(\d{14})")
_DIGITAL_LINK = re.compile(r"/01/(\d{14}|\d{13}|\d{12}|\d{8})(?:[/?#]|$)")


def gtin_from_gs1(text: str) -> str | None:
    """The GTIN inside GS1 element strings or a GS1 Digital Link URL, normalised; None when absent."""
    for pattern in (_DIGITAL_LINK, _GS1_GTIN):
        match = pattern.search(text)
        if match and has_valid_check_digit(match.group(1)):
            gtin14 = match.group(1).zfill(14)
            return gtin14[6:] if gtin14.startswith("000000") else normalize_barcode(gtin14)
    return None
