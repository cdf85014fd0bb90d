"""Chat text → commands: the words people type in a sales chat, Chinese first, English too.

Pure functions, no database: product, customer and unit names stay text here and are resolved by the
handlers. Every reader folds the text first (`fold`): traditional Chinese is read as simplified there,
and emoji and emoticon codes are dropped. Quantities are read as people write them: full-width digits, `x10`,
`*10`, `10箱`, Chinese numerals (`两箱`, `十二瓶`, `一箱半`), mixed units (`3箱零12支`), a bare number in the
product's base unit; a bare number right after a Chinese name may be the name's end instead (`可口可乐330`,
`split_item`), and one before a space inside a name (`iphone 15 pro 2台`, `split_items`), which the handler settles
with the catalog.
A quantity is read as written, `-5箱` and `0箱` too: whether it can be taken is core's rule
(`core.quantity.check_quantity`), so the person learns what is wrong with it instead of it being dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from core.text import VARIATION_SELECTORS, normalize

# ---------------------------------------------------------------- quantities


@dataclass(frozen=True, slots=True)
class QuantityPart:
    amount: Decimal
    unit: str  # "" means the product's base unit


@dataclass(frozen=True, slots=True)
class QuantityText:
    """`3箱零12支` → parts (3, 箱), (12, 支); resolved against the product's units by the handler.

    `-3箱12支` negates every part, and is written back the same way. `glued`: a bare number as written right
    after a Chinese name, in digits or Chinese numerals (`可乐118`, `可口可乐330`, `可乐十二`, `统一`), else "";
    the text cannot tell a count from the end of a name, so the handler asks the catalog
    (`bot.handlers.common.find_line`)."""

    parts: tuple[QuantityPart, ...]
    glued: str = ""

    def __str__(self) -> str:
        sign = "-" if any(p.amount < 0 for p in self.parts) else ""
        return sign + "".join(f"{_plain(abs(p.amount))}{p.unit}" for p in self.parts)


def _plain(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
              "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_SCALES = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CHINESE_NUMERALS = "".join(_CN_DIGITS) + "".join(_CN_SCALES) + "万半"

# 三百五 is 三百五十: a digit said right after these scales counts the next one down.
_SHORTENED = {"百": 10, "佰": 10, "千": 100, "仟": 100, "万": 1000}


def chinese_number(text: str) -> Decimal | None:
    """十二 → 12, 两 → 2, 一百零五 → 105, 二十 → 20, 半 → 0.5, and as said for short: 三百五 → 350, 两千五 → 2500,
    一万二 → 12000 (a last digit right after 百, 千 or 万 counts the next scale down; 三百零五 is 305); None when it
    is not a numeral: digits in a row (一五七三, 二两) are a name's, not a count."""
    if text == "半":
        return Decimal("0.5")
    if not text:
        return None
    total, section, digit = 0, 0, None
    for char in text:
        if char in _CN_DIGITS:
            if digit and _CN_DIGITS[char]:  # 一百零五 has its 零; 一五 is no number
                return None
            digit = _CN_DIGITS[char]
        elif char in _CN_SCALES:
            section += (1 if digit is None else digit) * _CN_SCALES[char]
            digit = None
        elif char == "万":
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
        else:
            return None
    if digit and len(text) > 1 and text[-2] in _SHORTENED:
        digit *= _SHORTENED[text[-2]]
    return Decimal(total + section + (digit or 0))


def number(text: str) -> Decimal:
    """An Arabic or Chinese number as typed (already NFKC-folded)."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return Decimal(text)
    value = chinese_number(text)
    if value is None:
        raise ValueError(text)
    return value


# Units a person writes after a number. Measures that belong to a product's spec (ml, g, 升) are left
# out on purpose, so that "可乐 330ml 10箱" keeps "330ml" in the name.
_UNIT_WORDS = (
    "公斤 千克 箱 件 瓶 罐 听 支 根 个 包 袋 盒 桶 条 提 板 排 只 套 台 张 卷 本 双 对 份 片 块 斤 组 卡 粒 杯 壶 筒 坛"
).split()
_ENGLISH_UNITS = {
    "cases": "箱", "case": "箱", "ctn": "箱", "ctns": "箱", "boxes": "盒", "box": "盒",
    "bottles": "瓶", "bottle": "瓶", "btl": "瓶", "cans": "罐", "can": "罐", "packs": "包", "pack": "包",
    "bags": "袋", "bag": "袋", "pcs": "个", "pc": "个", "pieces": "个", "piece": "个", "kg": "公斤",
}
_UNIT = "(?:" + "|".join(sorted(_UNIT_WORDS, key=len, reverse=True)) + "|" + "|".join(
    sorted(_ENGLISH_UNITS, key=len, reverse=True)
) + r"(?![a-z]))"
_CN_NUM = rf"(?:[{CHINESE_NUMERALS.removesuffix('半')}]+|半)"
_NUM = rf"(?:\d+(?:\.\d+)?|{_CN_NUM})"
_PART = rf"{_NUM}\s*{_UNIT}(?:半)?"
_QUANTITY = rf"(?:{_PART}(?:\s*[零又和]?\s*{_PART})*(?:\s*[零又]?\s*\d+(?:\.\d+)?)?)"
_SIGN = r"[-−]"  # NFKC folds the full-width minus to "-"; the minus sign U+2212 stays itself
# x10, ×10, *10: an x after a Latin letter or a digit ends a word instead (box 10, iphone 15 pro max 1台)
_TIMES = r"(?:(?<![a-z\d])x|[×*])"
_TAIL = re.compile(
    rf"(?P<prefix>{_TIMES}\s*)?(?P<sign>{_SIGN})?(?P<qty>{_QUANTITY}|\d+(?:\.\d+)?|{_NUM}(?=\s*$))\s*$"
)
_HEAD = re.compile(rf"^\s*(?P<sign>{_SIGN})?(?P<qty>{_QUANTITY})\s*(?P<rest>\S.*)$")
_WHOLE = re.compile(rf"(?P<sign>{_SIGN})?\s*(?P<qty>{_QUANTITY}|{_NUM})")
_PART_RE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>{_UNIT})?(?P<half>半)?")
_NUMBER_LIKE = re.compile(rf"[x×*]?{_SIGN}?\d\S*")
_SPEC = re.compile(r"\d+(?:\.\d+)?[a-z]+")  # 330ml, 500g, 1.25l: part of the product's name


def _unit_name(raw: str) -> str:
    return _ENGLISH_UNITS.get(raw, raw)


def parse_quantity(text: str) -> QuantityText | None:
    """The whole text as a quantity (`10箱`, `两箱半`, `3箱零12支`, `x10`, `118`), or None."""
    whole = _WHOLE.fullmatch(fold(text).strip().lstrip("x×*").strip())
    return _quantity(whole.group("qty"), negative=bool(whole.group("sign"))) if whole else None


def _quantity(text: str, *, negative: bool = False, glued: str = "") -> QuantityText | None:
    parts: list[QuantityPart] = []
    # "3箱零12支": the 零 joins two parts; it is not a number of its own.
    text = re.sub(r"(?<=\D)[零又和]\s*(?=\d)", " ", text)
    for match in _PART_RE.finditer(text):
        try:
            amount = number(match.group("num"))
        except ValueError:
            return None
        unit = _unit_name(match.group("unit") or "")
        if match.group("half"):
            amount += Decimal("0.5")
        parts.append(QuantityPart(-amount if negative else amount, unit))
    return QuantityText(tuple(parts), glued) if parts else None


@dataclass(frozen=True, slots=True)
class ItemText:
    """One line of an order or purchase: the product as typed and its quantity (None when missing).

    `unread`: with no quantity, the last word when it looks like a number that is none (`1e9`), kept out of
    the product, so the person is told the quantity was not understood rather than missing."""

    product: str
    quantity: QuantityText | None
    unread: str = ""
    # The line as typed when only a space after a bare number ended it (`iphone 15` of `iphone 15 pro 2台`): the
    # number may be inside a name, which the handler settles with the catalog (`bot.handlers.common.read_lines`).
    joins: str = ""
    # 和 / 跟 / 加 / 及 between this line and the one before, which may begin this line's name instead: read as the
    # lines' separator in `可乐 10箱和路雪 2盒` (路雪: 和路雪?), as the name's in `可乐 10箱 和雪碧 5瓶` (和雪碧: 雪碧?).
    connector: str = ""

    @property
    def other_product(self) -> str:
        """The product text read the other way at its connector (和路雪 for 路雪, 雪碧 for 和雪碧); "" without one."""
        if not self.connector:
            return ""
        if self.product.startswith(self.connector):
            return self.product[len(self.connector) :].strip()
        return self.connector + self.product

    def __str__(self) -> str:
        """The line written back so that `split_item` reads it the same (a pick card keeps its lines so)."""
        quantity = str(self.quantity or self.unread)
        if self.quantity and self.quantity.glued:
            return self.product + self.quantity.glued
        return f"{self.product} {quantity}".strip()


_BARE = re.compile(r"\d+(?:\.\d+)?")
_BARE_NUMERAL = re.compile(_CN_NUM)


def split_item(line: str) -> ItemText:
    """`可乐 10箱`, `可乐x10`, `可乐十二瓶`, `雪碧 5`, `10箱可乐` → product text and quantity.

    A bare number glued to the name is the one reading the text cannot settle: after Latin letters or digits
    it is part of the name (`A4`, `cola330`); after a Chinese name it may be the quantity (`可乐118`, `可乐十二`)
    or the name's end (`可口可乐330`, `统一`), and is marked `glued` for the handler to settle with the catalog."""
    text = fold(line).strip()
    tail = _TAIL.search(text)
    if tail and tail.start() > 0:
        before, written = text[tail.start() - 1], tail.group("qty")
        plain = not tail.group("prefix") and not tail.group("sign")
        bare = plain and bool(_BARE.fullmatch(written))
        glued = before.isalpha() and (bare or (plain and not before.isascii() and bool(_BARE_NUMERAL.fullmatch(written))))
        product = text[: tail.start()].strip(" :,-")
        quantity = _quantity(written, negative=bool(tail.group("sign")), glued=written if glued else "")
        if product and quantity and not (bare and before.isascii() and before.isalnum()):
            return ItemText(product, quantity)
    head = _HEAD.match(text)
    if head:
        quantity = _quantity(head.group("qty"), negative=bool(head.group("sign")))
        product = head.group("rest").strip(" :,-")
        if quantity and product:
            return ItemText(product, quantity)
    product = text.strip(" :,-")
    words = product.rsplit(maxsplit=1)
    if len(words) == 2 and _NUMBER_LIKE.fullmatch(words[1]) and not _SPEC.fullmatch(words[1]):
        return ItemText(words[0].strip(" :,-"), None, words[1])
    return ItemText(product, None)


# Spec words after a spaced number keep it in the name (农夫山泉 550 ml).
_SPEC_WORD = r"(?:ml|l|g|mg|cl|oz|毫升|升|克|度|°|%)(?![a-z])"
# After a quantity, what does not begin the next product: another number, a sign, a unit ending a word
# (可乐 10 箱), a spec word.
_NO_NEXT_NAME = rf"(?:[x×*]?\s*{_SIGN}?\d|{_QUANTITY}(?:\s|$)|{_UNIT}(?:半)?(?:$|[\s,;、。/])|{_SPEC_WORD})"
# A quantity (with its unit, or a bare number) and a space ends a line when a name came before it and one
# follows: 可乐10箱 雪碧5瓶, 可乐 10 雪碧 5. Not 可口可乐330 10 (a number follows) nor 可乐 10 箱, nor after digits
# glued to Latin letters, which are the name's (iphone15 pro 2台).
_NEXT_ITEM = re.compile(
    rf"(?P<qty>{_QUANTITY}|(?:(?<={_TIMES})|(?<![\d.a-z])){_BARE.pattern}|{_CN_NUM})\s+(?!{_NO_NEXT_NAME})(?=\S)"
)


def _cut_after_quantities(chunk: str) -> list[tuple[str, bool]]:
    """The lines of a chunk, each with whether only a space after a bare number ends it: a number written
    after the name's word, not marked as a count by x or a sign, may be inside a name (iphone 15 pro)."""
    lines, start = [], 0
    for match in _NEXT_ITEM.finditer(chunk):
        if chunk[start : match.start()].strip():  # a quantity that follows a name ends an item
            before = chunk[match.start() - 1]
            bare = _BARE.fullmatch(match.group("qty")) or _BARE_NUMERAL.fullmatch(match.group("qty"))
            soft = bool(bare) and (before.isspace() or (before.isalpha() and not before.isascii()))
            lines.append((chunk[start : match.end("qty")], soft))
            start = match.end()
    return [*lines, (chunk[start:], False)]


_CONNECTORS = "和跟加及"
# Between a quantity and the next product: `/`, 还有 or 以及 however spaced (可乐 10箱/雪碧 5瓶, 可乐 10还有雪碧 5);
# 和, 跟, 加 or 及 after a digit or a unit (一加手机 is a name), glued to it or standing alone (可乐 10箱和雪碧 5瓶,
# 可乐 10 跟 雪碧 5). Not when glued to the next word after a space, which begins a name (可乐 2箱 和其正 3箱),
# nor before a number or a unit ending a word: 3箱和12支 and 两箱和三瓶 are one quantity, 24罐/箱 a spec.
# `link`: a 和 glued to both, which may begin the next name instead (可乐 10箱和路雪 2盒).
_BETWEEN_LINES = re.compile(
    rf"(?<=[\d{CHINESE_NUMERALS}])(?P<unit>\s*{_UNIT}(?:半)?)?"
    rf"(?:\s*(?:/|还有|以及)|(?(unit)|(?<=\d))(?:\s+[{_CONNECTORS}](?=\s)|(?P<link>[{_CONNECTORS}])))\s*+"
    rf"(?!\d|(?:{_NUM}\s*)?{_UNIT}(?:半)?(?:$|[\s,;、。/]|\d))"
)


def split_items(text: str) -> tuple[ItemText, ...]:
    """Several lines in one message: separated by commas, 、, semicolons, 。, new lines, `/`, 还有, 以及, 和, 跟, 加
    or 及 after a quantity (`_BETWEEN_LINES`), or by a space after a quantity (`可乐10箱 雪碧5瓶`, `可乐 10 雪碧 5`).
    What only the catalog can settle is kept for the handler (`bot.handlers.common.read_lines`): the text of a line
    ended only by a space after a bare number (`joins`: `iphone 15 pro 2台`), and a 和 / 跟 / 加 / 及 that may
    begin the next line's name (`connector`: `可乐 10箱和路雪 2盒`, `可乐 10箱 和雪碧 5瓶`)."""
    folded = fold(text)
    items: list[ItemText] = []
    start, link = 0, ""
    for match in [*_BETWEEN_LINES.finditer(folded), None]:
        chunk = folded[start:] if match is None else folded[start : match.start()] + (match.group("unit") or "")
        for piece in re.split(r"[,;、。\n]+", chunk):
            for line, soft in _cut_after_quantities(piece):
                if line.strip():
                    items.append(_item(line, soft, link, first=not items))
                link = ""  # only the line right after it
        if match is not None:
            link = match.group("link") if match.end() == match.end("link") else ""  # and glued to that line
            start = match.end()
    return tuple(items)


def _item(line: str, soft: bool, link: str, *, first: bool) -> ItemText:
    item, text = split_item(line), line.strip()
    begins = "" if first or text[:1] not in _CONNECTORS or not item.product.startswith(text[0]) else text[0]
    return replace(item, joins=text if soft else "", connector=link or begins)


# ---------------------------------------------------------------- lots on receiving


@dataclass(frozen=True, slots=True)
class LotDetails:
    """`批次 L240501 生产 2026-05-01 到期 2027-05-01` as typed: what was read, and what could not be."""

    lot_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None
    problems: tuple[str, ...] = ()


_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?|\d{8}"
_DATE_WORDS = {
    "production_date": r"生产日期|生产|生产于|mfd|mfg|prod(?:uced)?",
    "expiry_date": r"到期日期|到期日|到期|有效期至|有效期|保质期至|exp(?:iry|ires)?",
}
_DATE_LABEL = {"production_date": "生产日期", "expiry_date": "到期日"}
_KEYED_DATE = re.compile(
    r"(?P<word>" + "|".join(f"(?P<{k}>{v})" for k, v in _DATE_WORDS.items()) + r")\s*[:：]?\s*(?P<date>" + _DATE + ")"
)
_BARE_DATE = re.compile(r"(?<![\w-])(?P<date>" + _DATE + r")(?![\w-])")
_LOT_NO = re.compile(r"(?:(?:批次号|批号|批次)\s*[:：]?|\blot(?:\s*no)?(?:\s*[:：]|\s))\s*(?P<lot>[\w-]+)")
_LOT_WORD = re.compile(r"^(?:批次号|批号|批次|lot)$")


def _read_date(text: str) -> date | None:
    digits = re.findall(r"\d+", text)
    if len(digits) == 1:  # 20270501
        digits = [digits[0][:4], digits[0][4:6], digits[0][6:]]
    try:
        return date(int(digits[0]), int(digits[1]), int(digits[2]))
    except ValueError:
        return None


def parse_lot_details(text: str, today: date) -> LotDetails:
    """The lot number and dates of one received line: keyed dates (生产 / 到期, mfd / exp), in 2027-05-01,
    2027/5/1, 2027.5.1, 2027年5月1日 or 20270501; the lot number after 批次, or the first other word.
    Dates without a word are read as a label prints them (`_settle_unkeyed`). Never raises: a date that
    does not exist, or that cannot be settled, is named in `problems`."""
    folded = fold(text).strip()
    values: dict[str, date | None] = {}
    problems = []
    for match in _KEYED_DATE.finditer(folded):
        field = next(k for k in _DATE_WORDS if match.group(k))
        value = _read_date(match.group("date"))
        if value is None:
            problems.append(f"{_DATE_LABEL[field]}“{match.group('date')}”不是有效日期（例：2027-05-01）")
        values[field] = value
    rest = _KEYED_DATE.sub(" ", folded)
    unkeyed: list[tuple[str, date]] = []
    for match in _BARE_DATE.finditer(rest):
        value = _read_date(match.group("date"))
        if value is None:
            problems.append(f"日期“{match.group('date')}”不是有效日期（例：2027-05-01）")
        else:
            unkeyed.append((match.group("date"), value))
    if unkeyed and not problems:
        problems += _settle_unkeyed(values, unkeyed, today)
    rest = _BARE_DATE.sub(" ", rest)
    lot = _LOT_NO.search(rest)
    if lot:
        lot_no = lot.group("lot")
    else:
        words = [w for w in re.split(r"[\s,，;；]+", rest) if w and not _LOT_WORD.match(w)]
        lot_no = words[0] if words else ""
    return LotDetails(lot_no.upper(), values.get("production_date"), values.get("expiry_date"), tuple(problems))


def _settle_unkeyed(values: dict[str, date | None], unkeyed: list[tuple[str, date]], today: date) -> list[str]:
    """Dates typed without 生产 / 到期 fill `values` as a label is read: of two, the earlier is the production
    date and the later the expiry; one beside a keyed date is the other one; one alone is the expiry if it
    is still to come (nothing is produced in the future), else the production date. Else: asked."""
    missing = [field for field in ("production_date", "expiry_date") if field not in values]
    if len(unkeyed) == 2 and len(missing) == 2:
        values["production_date"], values["expiry_date"] = sorted(value for _, value in unkeyed)
    elif len(unkeyed) == 1 and len(missing) == 1:
        values[missing[0]] = unkeyed[0][1]
    elif len(unkeyed) == 1 and len(missing) == 2:
        values["expiry_date" if unkeyed[0][1] > today else "production_date"] = unkeyed[0][1]
    else:
        return [
            f"日期“{typed}”是生产日期还是到期日？请写“生产 {typed}”或“到期 {typed}”" for typed, _ in unkeyed
        ]
    return []


# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class StockQuery:
    query: str


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    customer: str
    items: tuple[ItemText, ...]


@dataclass(frozen=True, slots=True)
class RequestPurchase:
    items: tuple[ItemText, ...]
    supplier: str  # "" → the products' preferred supplier


@dataclass(frozen=True, slots=True)
class PendingApprovals:
    pass


@dataclass(frozen=True, slots=True)
class Receive:
    document_no: str
    rest: str = ""  # lot number / expiry notes as typed


@dataclass(frozen=True, slots=True)
class Ship:
    document_no: str
    items: tuple[ItemText, ...] = ()  # what to ship of it; none: everything still open


@dataclass(frozen=True, slots=True)
class CloseOrder:
    """结单: a partly shipped sales order will not ship the rest."""

    document_no: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Count:
    product: str
    quantity: QuantityText | None  # None: ask for it
    warehouse: str = ""


@dataclass(frozen=True, slots=True)
class Transfer:
    product: str
    quantity: QuantityText
    source: str  # "": the one other warehouse that can spare it
    destination: str


@dataclass(frozen=True, slots=True)
class WriteOff:
    """`报损 [仓库] 商品 [数量] [批次 L1] [原因 破损]`: what is written off is decided by core's plan."""

    product: str  # may begin with a warehouse name, as for a count
    quantity: QuantityText | None  # None: the named lot whole, or every expired lot
    lot_no: str | None
    reason: str  # "" : asked on the card


@dataclass(frozen=True, slots=True)
class UndoWriteOff:
    """`撤销报损 BS-20261204-0001`: a manager puts a write-off's stock back."""

    document_no: str


@dataclass(frozen=True, slots=True)
class ReturnGoods:
    """`退货 SO-… 可乐 2箱 [原因 破损]`: a customer's goods back; `退货 PO-… 可乐 2箱`: goods back to the supplier.
    The document may be one delivery of the order (SH-…, GR-…); which lines the goods went out or came in on is
    core's plan (`core.returns`)."""

    document_no: str
    items: tuple[ItemText, ...]
    reason: str = ""  # "": core's default (客户退货 / 退回供应商)


@dataclass(frozen=True, slots=True)
class ReturnWithoutDocument:
    """退货 with no document number after it: told how to name the order, unless a flow waits for an answer
    (临期's 标记处理 note may well be 退货), so it is free text (`FREE_TEXT`)."""

    text: str


@dataclass(frozen=True, slots=True)
class ReceivePayment:
    """`收款 华联 5000 [转账] [备注]`: money from a customer against what they owe. The amount is read as written,
    0 and negative too: what can be taken is core's rule (`core.accounts.check_payment_amount`)."""

    customer: str
    amount: Decimal
    method: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class PaySupplier:
    """`付款 太古 3000 [转账] [备注]`: money to a supplier against what we owe them."""

    supplier: str
    amount: Decimal
    method: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Receivables:
    """`欠款 华联`: one customer's balance and open receivables; `欠款` / `应收` alone: every customer who owes."""

    customer: str = ""


@dataclass(frozen=True, slots=True)
class Payables:
    """`应付 太古`: what we owe one supplier; `应付` alone: every supplier we owe."""

    supplier: str = ""


@dataclass(frozen=True, slots=True)
class NearExpiry:
    pass


@dataclass(frozen=True, slots=True)
class LowStock:
    pass


@dataclass(frozen=True, slots=True)
class TodaySales:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class CancelFlow:
    """取消, 算了: the flow waiting for an answer; with none, the 取消 of this person's latest draft card."""


@dataclass(frozen=True, slots=True)
class ConfirmDraft:
    """确认 typed instead of pressed (many type; some platforms show cards poorly): the first button of this
    person's latest draft card in this chat (确认, 提交审批, 确认报损; each may be typed by its name too)."""


@dataclass(frozen=True, slots=True)
class EditDraft:
    """修改 typed instead of pressed: the 修改 of this person's latest draft card in this chat."""


@dataclass(frozen=True, slots=True)
class WithdrawCredit:
    """撤回 typed instead of pressed: the 撤回特批 of this person's latest draft card in this chat."""


@dataclass(frozen=True, slots=True)
class RequestCredit:
    """申请特批 / 特批 [理由] typed: the 特批 button of this person's latest draft card, refused for credit; the
    reason goes to the managers."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Greeting:
    """你好, 在吗, hi: answered with a hello, not with 没看懂."""


@dataclass(frozen=True, slots=True)
class Thanks:
    """谢谢, 辛苦了: answered with 不客气."""


@dataclass(frozen=True, slots=True)
class Ack:
    """好的, 收到, ok, a lone 👍: the person heard the last answer; a short reply, not the help card."""


@dataclass(frozen=True, slots=True)
class PickRow:
    """`2`, `第2个`, `选二`: a row of the pick card I was last shown, typed instead of pressed (DingTalk shows a
    card's first 4 buttons, WeCom its first 6)."""

    number: int
    text: str  # as typed, for the help card when no pick card waits


@dataclass(frozen=True, slots=True)
class Bind:
    person: str  # the name as written after @ (the platform id comes from the event's mentions)
    role: str


@dataclass(frozen=True, slots=True)
class ShowAlertRoutes:
    pass


@dataclass(frozen=True, slots=True)
class AddAlertRoute:
    """`告警路由 添加 缺货 主仓 本群`: alert kinds, optional warehouse/category words, one receiver."""

    kinds: tuple[str, ...]  # "low_stock" / "near_expiry" / "digest", or a word as typed that names no alert
    scope: tuple[str, ...]  # warehouse and/or category names as typed
    receiver: str  # "group" (this group chat), "role" (its users by direct message), "robot" (from psibot.toml)
    name: str = ""  # the role's or robot's name as typed


@dataclass(frozen=True, slots=True)
class RemoveAlertRoute:
    number: int


@dataclass(frozen=True, slots=True)
class Usage:
    """A known command word with arguments that do not fit: answer with that command's usage."""

    command: str


@dataclass(frozen=True, slots=True)
class Unknown:
    text: str


Command = (
    StockQuery | PlaceOrder | RequestPurchase | PendingApprovals | Receive | Ship | CloseOrder | Count | Transfer
    | WriteOff | UndoWriteOff | ReturnGoods | ReturnWithoutDocument | ReceivePayment | PaySupplier | Receivables
    | Payables | NearExpiry | LowStock | TodaySales | Help | CancelFlow | ConfirmDraft | EditDraft
    | WithdrawCredit | RequestCredit | PickRow | Greeting | Thanks | Ack | Bind | ShowAlertRoutes | AddAlertRoute
    | RemoveAlertRoute | Usage | Unknown
)

# What `parse` reads as no command, or as a button typed: a flow waiting for an answer is offered it first
# (a 好的 answers no count, and a 确认 typed during a count confirms no draft).
FREE_TEXT: tuple[type, ...] = (
    Unknown, Greeting, Thanks, Ack, ConfirmDraft, EditDraft, ReturnWithoutDocument, PickRow
)

USAGE: dict[str, str] = {
    "stock": "库存 可乐 / 查 6901234567890 / stock cola",
    "order": "下单 华联超市 可乐 10箱，雪碧 5瓶",
    "purchase": "采购 可乐 200箱 供应商 太古",
    "receive": "入库 PO-20261122-0003",
    "ship": "发货 SO-20261122-0001（只发一部分：发货 SO-20261122-0001 可乐 5箱）",
    "close": "结单 SO-20261122-0001（部分发货的单，剩余不再发货）",
    "count": "盘点 可乐 118（或 盘点 可乐 4箱22罐）",
    "transfer": "调拨 可乐 20箱 主仓 到 门店",
    "write_off": "报损 可乐 5罐 破损（或 报损 牛奶 批次 L0601 过期；只写商品：报损它的全部过期批次）",
    "undo": "撤销报损 BS-20261204-0001（经理撤销一张报损单，库存回到原批次）",
    "return": "退货 SO-20261122-0007 可乐 2箱 原因 破损（客户退货）/ 退货 PO-20261122-0003 可乐 2箱（退给供应商）",
    "collect": "收款 华联 5000 转账（金额用数字，可写 ¥5,000.50）",
    "pay": "付款 太古 3000 转账（金额用数字，可写 ¥3,000.50）",
    "bind": "绑定 @某人 仓管",
    "alert_routes": "告警路由（查看） / 告警路由 添加 缺货 主仓 本群 / 告警路由 添加 临期 乳制品 仓管 / "
    "告警路由 添加 日报 机器人 purchasing / 告警路由 删除 3",
}


# 1,000 and 12,000箱: a comma (full-width alike, NFKC folds it) between 1-3 digits and groups of exactly three
# that end the number, before a unit, a space, a separator or the end. 可乐 10，雪碧 5 is two lines, and so
# are 可乐 10,100%橙汁 and 可乐 10,330ml雪碧: a name follows the digits.
_GROUPED_THOUSANDS = re.compile(
    rf"(?<![\d.,])\d{{1,3}}(?:,\d{{3}})+(?!\d)(?=(?:\.\d+)?\s*(?:{_UNIT}(?:半)?)?(?:$|[\s,;、。/]|[零又]?\d))"
)


# 👍 👌 🙏 🆗: a message of only these (skin tones, variation selectors, repeats allowed) nods, as 好的 does.
_NODS = frozenset("\U0001F44D\U0001F44C\U0001F64F\U0001F197")


# WeCom and DingTalk send their emoticons as text codes. Like emoji they are no part of a name, and the nods
# among them acknowledge as 👍 does. Only these few: other text in brackets may be a name's ([特价]可乐).
_NOD_CODES = ("强", "ok", "抱拳", "握手", "赞")
_EMOTICON_CODES = (*_NOD_CODES, "微笑", "呲牙", "偷笑", "憨笑", "愉快", "捂脸", "鼓掌", "玫瑰", "爱心", "胜利", "拥抱")
_EMOTICON = re.compile(r"\[(?:" + "|".join(_EMOTICON_CODES) + r")\]", re.IGNORECASE)
_NOD_CODE = re.compile(r"\[(?:" + "|".join(_NOD_CODES) + r")\]", re.IGNORECASE)


def _is_nod(text: str) -> bool:
    rest, codes = _NOD_CODE.subn("", unicodedata.normalize("NFKC", text))
    marks = [c for c in rest if not c.isspace() and c not in VARIATION_SELECTORS and unicodedata.category(c) != "Sk"]
    return bool(marks or codes) and all(c in _NODS for c in marks)


def _without_emoticons(text: str) -> str:
    """Each emoticon code becomes a space, as an emoji does: `库存 可乐[微笑]` is 库存 可乐."""
    return _EMOTICON.sub(" ", text) if "[" in text else text


def fold(text: str) -> str:
    """`core.text.normalize` (full-width to half-width, traditional to simplified, no emoji, lower case), the
    one reading the catalog's names are stored for search in, without thousands separators (1,000 → 1000)
    and without the emoticon codes chat platforms send ([微笑]), which no name is stored with."""
    normal = _GROUPED_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), unicodedata.normalize("NFKC", text))
    return normalize(_without_emoticons(normal))


# Command words, longest first within a family so "查库存" wins over "查".
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("alert_routes", ("告警路由", "提醒路由", "alert routes", "alert route")),
    ("return", ("采购退货", "销售退货", "客户退货", "退货", "return")),
    ("collect", ("收款", "回款", "receive payment", "payment", "collect")),
    ("pay", ("付款", "pay")),
    ("receivables", ("应收账款", "应收款", "应收", "欠款", "欠账", "receivables", "balances", "balance")),
    ("payables", ("应付账款", "应付款", "应付", "payables")),
    ("pending", ("待审批", "待审核", "待我审批", "审批列表", "pending", "approvals")),
    ("near_expiry", ("临期", "快过期", "过期", "near expiry", "expiring", "expiry")),
    ("low_stock", ("缺货", "低库存", "库存不足", "要补货", "low stock", "shortage", "shortages")),
    ("today", ("今日销售", "今天销售", "今日销量", "今天卖了多少", "今日", "sales today", "today sales", "today")),
    ("help", ("帮助", "菜单", "怎么用", "使用说明", "help", "menu", "?", "？")),
    ("cancel", ("取消", "算了", "cancel")),
    # not 确定 nor 好: only words that clearly mean a draft card's first button (or name it)
    ("confirm", ("确认下单", "确认报损", "确认退货", "确认收款", "确认付款", "提交审批", "确认", "confirm", "submit")),
    ("edit", ("修改", "edit")),
    ("withdraw", ("撤回特批", "撤回", "withdraw")),
    ("credit", ("申请特批", "特批确认", "特批", "request credit")),
    ("order", ("下单", "开单", "订货", "order")),
    ("purchase", ("采购", "进货", "purchase", "buy")),
    ("receive", ("入库", "收货", "receive")),
    ("ship", ("发货", "出库", "ship")),
    ("close", ("结单", "关单", "close")),
    ("count", ("盘点", "count")),
    ("transfer", ("调拨", "调货", "移库", "transfer")),
    ("undo", ("撤销报损", "撤销报废", "撤销", "冲销", "undo write off", "undo writeoff", "undo")),
    ("write_off", ("报损", "报废", "write off", "writeoff", "scrap")),
    ("bind", ("绑定", "bind")),
    ("stock", ("查库存", "库存", "查询", "查", "stock", "inventory", "check")),
)

_NO_ARGUMENT: dict[str, Command] = {
    "pending": PendingApprovals(),
    "near_expiry": NearExpiry(),
    "low_stock": LowStock(),
    "today": TodaySales(),
    "help": Help(),
    "cancel": CancelFlow(),
    "confirm": ConfirmDraft(),
    "edit": EditDraft(),
    "withdraw": WithdrawCredit(),
}

# The whole message, folded, without trailing punctuation and particles (你好呀, 谢谢啦~, ok！).
_COURTESY: dict[str, Command] = {
    **dict.fromkeys(
        ("你好", "您好", "你们好", "大家好", "在吗", "在么", "在嘛", "在不在", "哈喽", "哈啰", "嗨", "早", "早安",
         "早上好", "上午好", "中午好", "下午好", "晚上好", "hi", "hello", "hey", "good morning"),
        Greeting(),
    ),
    **dict.fromkeys(
        ("谢谢", "谢谢你", "谢谢您", "谢了", "多谢", "感谢", "非常感谢", "辛苦了", "辛苦", "thanks", "thank you", "thx"),
        Thanks(),
    ),
    **dict.fromkeys(
        ("好的", "好", "好滴", "好嘞", "好哒", "行", "收到", "知道了", "明白", "明白了", "了解", "嗯", "嗯嗯", "ok", "okay",
         "okk"),
        Ack(),
    ),
}
_COURTESY_TAIL = re.compile(r"[\s!?.,~。啊呀啦哈]+$")

_DOCUMENT_NO = re.compile(r"[a-z]{2,4}-?\d{6,8}-?\d{1,6}", re.IGNORECASE)
_BARCODE = re.compile(r"\d{8,14}")
# How people ask about stock without a command word: a lead-in (请问, 帮我查一下, 看看), the product, and a
# question (还有多少, 有货吗, 的库存, 还剩几箱); or the question before the product (主仓还有多少雪碧: the place
# is left out, the stock card lists every warehouse). A lead-in alone asks too (看看雪碧); a question alone
# does (雪碧还有吗). `查` and `库存` are command words, and their rest is read the same way (查一下雪碧的库存).
_ASK_LEAD = re.compile(
    r"^(?:(?:请问一下|请问|问一下|问下|麻烦你?|帮忙|帮我|给我|我想|想|请)\s*)*"
    r"(?:(?:查查|看看|查一下|看一下|查下|看下|问问|查|看)\s*)?"
)
_UNIT_WORD = "(?:" + "|".join(sorted(_UNIT_WORDS, key=len, reverse=True)) + ")"
_ASK_TAIL = re.compile(
    r"\s*(?:的)?(?:"
    r"库存(?:还有|还剩|有)?(?:多少|几" + _UNIT_WORD + r")?"
    r"|(?:还|现在|目前)?(?:有|剩)(?:多少|几)" + _UNIT_WORD + r"?(?:库存|货)?"
    r"|(?:还|现在)?有(?:货|库存)?(?:吗|么|嘛|没|没有|不)"
    r"|(?:还)?有没有(?:货|库存)?|还剩多少|够不够|还够吗|多少库存"
    r")[?？。!！~]*$"
)
_ASK_BEFORE = re.compile(r"^\S*?(?:还|现在|目前)?(?:有|剩)多少(?:的)?(?P<product>[^\s?？]{2,}?)[?？。!！~]*$")
_TRANSFER = re.compile(
    r"^(?P<body>.+?)\s*(?:从\s*)?(?P<source>[^\s从到至]+?)\s*(?:到|至|->|→|=>|\bto\b)\s*(?P<destination>\S+?)\s*$"
)
_TRANSFER_TO = re.compile(r"^(?P<body>.+?)\s*(?:到|至|->|→|=>|\bto\b)\s*(?P<destination>\S+?)\s*$")
# 把5箱可乐调到门店, 将可乐 20 从主仓调拨到门店: a transfer said as a sentence, without the command word.
_TRANSFER_SENTENCE = re.compile(
    r"^(?:请|帮我|麻烦)?\s*(?:把|将)\s*(?P<body>.+?)\s*(?:从\s*(?P<source>[^\s从]+?)\s*)?"
    r"(?:调拨|调|移|转|拨|挪|搬)(?:到|至|去|往|给)\s*(?P<destination>[^\s。!！]+?)[。!！~]*$"
)
_SUPPLIER = re.compile(r"\s*(?:供应商|供货商|找|from|supplier)\s*[:：]?\s*(?P<supplier>\S+)\s*$")
_BIND = re.compile(r"^@?(?P<person>\S+?)\s+(?:为|做|当|设为|as\s+)?\s*(?P<role>\S+)$")


def _split_word(text: str) -> tuple[str, str] | None:
    for family, words in _WORDS:
        for word in words:
            if text == word:
                return family, ""
            if text.startswith(word):
                rest = text[len(word):]
                # English words need a space after them; Chinese ones may run on ("库存可乐").
                if word.isascii() and word.isalpha() and not rest[:1].isspace():
                    continue
                return family, rest.strip(" :")
    return None


# 华联欠多少, 华联超市还欠我们多少钱？, 华联的欠款: one customer's balance asked as a question.
_OWES = re.compile(
    r"^(?:请问|查一?下|看一?下)?\s*(?P<customer>[^\s?？]{2,}?)\s*(?:(?:现在|目前)?还?欠(?:我们|咱们)?(?:多少钱?|几多|多少款|了?多少)|的?欠款(?:是?多少)?)"
    r"\s*(?:了|呢|啊)?[?？。!！~]*$"
)
_NUMERALS = "一二三四五六七八九十"
_PICK_ROW = re.compile(rf"(?:第|选择?|选第)?\s*(?:(?P<digits>[1-9]\d?)|(?P<numeral>[{_NUMERALS}]))\s*(?:个|号|项|行)?")


def parse(text: str) -> Command:
    """One message → one command. Never raises: what does not fit becomes Usage or Unknown."""
    folded = fold(text).strip()
    if not folded:  # nothing but emoji, or nothing at all
        return Ack() if _is_nod(text) else Unknown(text)
    if _BARCODE.fullmatch(folded):
        return StockQuery(folded)
    row = _PICK_ROW.fullmatch(folded)
    if row:
        digits = row.group("digits")
        return PickRow(int(digits) if digits else _NUMERALS.index(row.group("numeral")) + 1, text)
    courtesy = _COURTESY.get(_COURTESY_TAIL.sub("", folded))
    if courtesy is not None:
        return courtesy
    split = _split_word(folded)
    if split is None:
        ordered = _customer_first(folded)
        if ordered is not None:
            return ordered
        owing = _OWES.match(folded)
        if owing:
            return Receivables(owing.group("customer"))
        moving = _TRANSFER_SENTENCE.match(folded)
        if moving:
            item = split_item(moving.group("body"))
            if item.quantity is not None and item.product:
                return Transfer(item.product, item.quantity, moving.group("source") or "", moving.group("destination"))
        asked = _stock_question(folded)
        return StockQuery(asked) if asked else Unknown(text)
    family, rest = split
    if family in _NO_ARGUMENT:
        # 取消！ and 临期。 are the words alone; 取消？ and 确认？ are questions.
        alone = not rest.rstrip("!.~。") or family == "help"
        return _NO_ARGUMENT[family] if alone else _with_rest(family, rest, text)
    if family == "alert_routes":
        return _alert_routes(rest)
    if family == "credit":
        return RequestCredit(rest.strip(" ,，：。"))
    if family == "return":
        return _return(rest, text)
    if family == "receivables":
        return Receivables(rest.strip(" ,，：。?？"))
    if family == "payables":
        return Payables(rest.strip(" ,，：。?？"))
    if not rest:
        return Usage(family)
    return _with_rest(family, rest, text)


def _stock_question(text: str, *, asked: bool = False) -> str:
    """The product a stock question is about, or "" when `text` is none (`asked`: a command word already
    asked, so the product alone is enough: the rest of 查一下雪碧的库存)."""
    lead = _ASK_LEAD.match(text)
    body = text[lead.end():] if lead else text
    if asked:
        body = re.sub(r"^(?:一下|下)\s*", "", body)
    tail = _ASK_TAIL.search(body)
    if tail:
        return body[: tail.start()].strip(" ,，:：")
    before = _ASK_BEFORE.match(text)
    if before:
        return before.group("product")
    return body.strip(" ,，:：") if asked or (lead and lead.end() > 0) else ""


def _with_rest(family: str, rest: str, original: str) -> Command:
    match family:
        case "stock":
            product = _stock_question(rest, asked=True)
            return StockQuery(product) if product else Usage("stock")
        case "order":
            return _order(rest)
        case "purchase":
            return _purchase(rest)
        case "receive" | "ship" | "close" | "undo":
            number_match = _DOCUMENT_NO.match(rest)
            if not number_match:
                return Usage(family)
            document_no = number_match.group(0).upper()
            after = rest[number_match.end():].strip(" :,")
            if family == "ship":
                items = split_items(after)
                return Ship(document_no, items) if all(item.quantity for item in items) else Usage("ship")
            if family == "close":
                return CloseOrder(document_no, after)
            if family == "undo":
                return UndoWriteOff(document_no)
            return Receive(document_no, after)
        case "count":
            return _count(rest)
        case "transfer":
            return _transfer(rest)
        case "write_off":
            return _write_off(rest)
        case "collect" | "pay":
            return _payment(family, rest)
        case "bind":
            bind = _BIND.match(rest)
            return Bind(bind.group("person"), bind.group("role")) if bind else Usage("bind")
        case "today" if rest in ("销售", "sales"):
            return TodaySales()
    return Unknown(original)


def _order(rest: str) -> Command:
    # The customer ends at the first space or new line; the lines keep their own new lines.
    head = re.sub(r"^(?:客户|给|customer)\s*[:：]?\s*", "", rest)
    customer, _, lines = re.sub(r"\s", " ", head, count=1).partition(" ")
    if ":" in customer:
        customer, _, more = customer.partition(":")
        lines = f"{more} {lines}".strip()
    customer = customer.strip(" :,")
    items = split_items(lines)
    if not customer or not items:
        return Usage("order")
    return PlaceOrder(customer, items)


# 给华联下单 可乐10箱, 帮华联下单 …, 华联下单 …: the customer before 下单 or 开单 (not 订货: 给太古订货 buys from a
# supplier). Words before it that name nobody (我要下单 …, 请帮我下单 …) leave an ordinary 下单.
_ORDER_AFTER = re.compile(r"^(?P<who>[^,;:\n]*?)\s*[:,]?\s*(?:下单|开单)[\s:,]*(?P<lines>.*)$", re.DOTALL)
_FOR_WHOM = re.compile(r"^(?:请|麻烦你?)?\s*(?:帮忙|帮我|给我|我要|我想|我来|我(?=\s*[给帮替]|$))?\s*(?:给|帮|替)?\s*")


def _customer_first(folded: str) -> Command | None:
    """An order whose customer comes first, or None: it is read so only when the customer is one word and a
    line has a quantity, so that free text (重复下单, 怎么下单？) is not taken for an order."""
    found = _ORDER_AFTER.match(folded)
    if found is None:
        return None
    customer, lines = _FOR_WHOM.sub("", found.group("who"), count=1), found.group("lines")
    if not customer:
        return _order(lines) if lines else Usage("order")
    if re.search(r"\s", customer):
        return None
    items = split_items(lines)
    return PlaceOrder(customer, items) if any(item.quantity or item.unread for item in items) else None


def _purchase(rest: str) -> Command:
    supplier = ""
    found = _SUPPLIER.search(rest)
    if found:
        supplier = found.group("supplier")
        rest = rest[: found.start()]
    items = split_items(rest)
    if not items:
        return Usage("purchase")
    return RequestPurchase(items, supplier)


def _count(rest: str) -> Command:
    item = split_item(rest)
    if item.quantity is None:
        return Count(item.product, None)
    return Count(item.product, item.quantity)


def _transfer(rest: str) -> Command:
    """`调拨 可乐 20箱 主仓 到 门店`; without the source (`调拨 可乐 20箱 到门店`) the handler finds it."""
    for pattern in (_TRANSFER, _TRANSFER_TO):
        match = pattern.match(rest)
        if match:
            source = match.groupdict().get("source") or ""
            if re.fullmatch(_QUANTITY, source) or _BARE.fullmatch(source):
                continue  # 调拨 雪碧500 3箱 到 门店: the quantity, not a source; 500 ends the name
            item = split_item(match.group("body"))
            if item.quantity is not None and item.product:
                return Transfer(item.product, item.quantity, source, match.group("destination"))
    return Usage("transfer")


# Reasons people give for a write-off without saying 原因 (`报损 可乐 5罐 破损`).
WRITE_OFF_REASONS = ("过期", "破损", "变质", "丢失", "损坏", "漏液", "胀袋", "霉变", "被盗", "临期", "expired", "damaged", "lost")
_REASON = re.compile(r"\s*(?:原因|理由|因为|reason)\s*[:：]?\s*(?P<reason>.+)$")
_LOT = re.compile(r"\s*(?:批次|批号|lot)\s*[:：]?\s*(?P<lot>[^\s,，]+)")


def _write_off(rest: str) -> Command:
    reason = ""
    found = _REASON.search(rest)
    if found:
        reason, rest = found.group("reason").strip(), rest[: found.start()]
    else:
        words = rest.rsplit(maxsplit=1)
        if len(words) == 2 and words[1] in WRITE_OFF_REASONS:
            reason, rest = words[1], words[0]
    lot_no = None
    lot = _LOT.search(rest)
    if lot:
        lot_no, rest = lot.group("lot"), rest[: lot.start()] + rest[lot.end():]
    item = split_item(rest)
    if not item.product or item.unread:
        return Usage("write_off")
    return WriteOff(item.product, item.quantity, lot_no, reason)


# Reasons people give for a return without saying 原因 (`退货 SO-… 可乐 2箱 破损`).
RETURN_REASONS = (*WRITE_OFF_REASONS, "质量问题", "包装破损", "发错货", "送错货", "错发", "多发", "拒收", "客户拒收", "滞销")


def _return(rest: str, original: str) -> Command:
    """`退货 SO-… 可乐 2箱，雪碧 1瓶 [原因 …]`; with no document number first, free text (`ReturnWithoutDocument`)."""
    number_match = _DOCUMENT_NO.match(rest)
    if not number_match:
        return ReturnWithoutDocument(original)
    after = rest[number_match.end():].strip(" :,")
    reason = ""
    found = _REASON.search(after)
    if found:
        reason, after = found.group("reason").strip(), after[: found.start()]
    else:
        words = after.rsplit(maxsplit=1)
        if len(words) == 2 and words[1] in RETURN_REASONS:
            reason, after = words[1], words[0]
    items = split_items(after)
    if not items or not all(item.quantity for item in items):
        return Usage("return")
    return ReturnGoods(number_match.group(0).upper(), items, reason)


_MONEY_TEXT = r"[-−]?\s*(?:¥|rmb)?\s*[-−]?\d+(?:\.\d+)?\s*(?:万|千|w|k)?\s*(?:元|块钱|块|rmb|yuan)?"
_MONEY = re.compile(
    r"(?P<sign>[-−])?\s*(?:¥|rmb)?\s*(?P<sign2>[-−])?(?P<number>\d+(?:\.\d+)?)\s*(?P<scale>万|千|w|k)?\s*(?:元|块钱|块|rmb|yuan)?"
)
_MONEY_SCALES = {"万": 10000, "w": 10000, "千": 1000, "k": 1000}
_NAME_THEN_MONEY = re.compile(rf"(?P<name>.*?\D)(?P<money>{_MONEY_TEXT})")


def parse_money(text: str) -> Decimal | None:
    """An amount of money in yuan as people write it (`5000`, `¥5,000.50`, `5000元`, `1.2万`, `-300`), exactly;
    None when it is not one (`五千`, `1e9`). 0 and negative amounts are read: refusing them is core's rule."""
    found = _MONEY.fullmatch(fold(text).strip())
    if found is None:
        return None
    value = Decimal(found.group("number")) * _MONEY_SCALES.get(found.group("scale") or "", 1)
    return -value if found.group("sign") or found.group("sign2") else value


def _partner_and_money(words: list[str]) -> tuple[str, Decimal, list[str]] | None:
    """The partner, the amount and what follows: `华联 5000 …`, the amount first (`5000 华联 …`), or glued
    (`华联5000 …`)."""
    if len(words) >= 2:
        second, first = parse_money(words[1]), parse_money(words[0])
        if second is not None:
            return words[0], second, words[2:]
        if first is not None:
            return words[1], first, words[2:]
    if words:
        glued = _NAME_THEN_MONEY.fullmatch(words[0])
        amount = parse_money(glued.group("money")) if glued else None
        if glued and amount is not None:
            return glued.group("name"), amount, words[1:]
    return None


def _payment(family: str, rest: str) -> Command:
    """`收款 华联 5000 转账 尾款`: the partner, the amount, the way it was paid, a note."""
    read = _partner_and_money(re.sub(r"(¥|rmb)\s+", r"\1", rest).split())
    if read is None or not read[0].strip(" :,"):
        return Usage(family)
    partner, amount, more = read
    method, note = (more[0] if more else ""), " ".join(more[1:])
    if family == "collect":
        return ReceivePayment(partner.strip(" :,"), amount, method, note)
    return PaySupplier(partner.strip(" :,"), amount, method, note)


ALERT_KIND_WORDS = {
    **dict.fromkeys(("缺货", "低库存", "库存不足", "low-stock", "low_stock", "lowstock", "shortage"), "low_stock"),
    **dict.fromkeys(("临期", "过期", "快过期", "near-expiry", "near_expiry", "expiry", "expiring"), "near_expiry"),
    **dict.fromkeys(("日报", "每日汇总", "汇总", "digest", "daily"), "digest"),
}
_ROUTE_LIST = ("", "查看", "列表", "list", "show")
_ROUTE_ADD = ("添加", "新增", "增加", "加", "add")
_ROUTE_REMOVE = ("删除", "删", "移除", "去掉", "delete", "remove", "del")
_THIS_GROUP = ("本群", "这个群", "此群", "群里", "here", "this group", "this chat")
_ROBOT_WORDS = ("群机器人", "机器人", "robot", "bot")
_FILLER = ("到", "发到", "发给", "给", "发", "to", "->", "→")
_DIRECT = re.compile(r"^(?P<role>.+?)\s*(?:私聊|私信|\(私聊\)|dm)?$")


def _route_action(rest: str) -> tuple[str, str]:
    """The action word and what follows; Chinese action words may run on (`删除3`), English ones may not."""
    for word in sorted((*_ROUTE_ADD, *_ROUTE_REMOVE), key=len, reverse=True):
        if rest == word or rest.startswith(word + " ") or (not word.isascii() and rest.startswith(word)):
            return word, rest[len(word):].strip()
    return "", rest


def _alert_routes(rest: str) -> Command:
    """`告警路由`, `告警路由 添加 缺货、临期 主仓 饮料 到 本群`, `告警路由 删除 3` (English: alert routes add …)."""
    if rest in _ROUTE_LIST:
        return ShowAlertRoutes()
    action, body = _route_action(rest)
    if action in _ROUTE_REMOVE:
        number_text = body.lstrip("#")
        return RemoveAlertRoute(int(number_text)) if number_text.isdigit() else Usage("alert_routes")
    if action not in _ROUTE_ADD:
        return Usage("alert_routes")
    for phrase in _THIS_GROUP:  # the only receiver written in two English words
        if body.endswith(" " + phrase) and " " in phrase:
            body = body[: -len(phrase)] + "本群"
    words = [w for w in re.split(r"[\s,、/+]+", body) if w and w not in _FILLER]
    if len(words) < 2:
        return Usage("alert_routes")
    kinds = [ALERT_KIND_WORDS.get(words[0], words[0])]
    words = words[1:]
    while words and words[0] in ALERT_KIND_WORDS:
        kinds.append(ALERT_KIND_WORDS[words.pop(0)])
    if len(words) >= 2 and words[-2] in _ROBOT_WORDS:
        receiver, name, scope = "robot", words[-1], words[:-2]
    elif words and words[-1] in _THIS_GROUP:
        receiver, name, scope = "group", "", words[:-1]
    elif words and words[-1] in ("私聊", "私信", "dm") and len(words) >= 2:
        receiver, name, scope = "role", words[-2], words[:-2]
    elif words:
        direct = _DIRECT.match(words[-1])
        receiver, name, scope = "role", direct.group("role") if direct else words[-1], words[:-1]
    else:
        return Usage("alert_routes")
    if len(scope) > 2:
        return Usage("alert_routes")
    return AddAlertRoute(tuple(dict.fromkeys(kinds)), tuple(scope), receiver, name)
