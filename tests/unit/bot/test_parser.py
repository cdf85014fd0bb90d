"""The parser against real-looking phrasings, right and wrong, table-driven."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.parser import (
    _UNIT_WORDS,
    _WORDS,
    Ack,
    AddAlertRoute,
    Bind,
    CancelFlow,
    CloseOrder,
    ConfirmDraft,
    Count,
    EditDraft,
    Greeting,
    Help,
    LowStock,
    NearExpiry,
    PendingApprovals,
    PickRow,
    PlaceOrder,
    QuantityPart,
    QuantityText,
    Receive,
    RemoveAlertRoute,
    RequestCredit,
    RequestPurchase,
    Ship,
    ShowAlertRoutes,
    StockQuery,
    Thanks,
    TodaySales,
    Transfer,
    UndoWriteOff,
    Unknown,
    Usage,
    WithdrawCredit,
    WriteOff,
    chinese_number,
    fold,
    parse,
    parse_lot_details,
    parse_quantity,
    split_item,
)


def q(item_quantity: object) -> str:
    return "" if item_quantity is None else str(item_quantity)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("十", 10), ("十二", 12), ("二十", 20), ("二十五", 25), ("两", 2), ("一百零五", 105), ("三千", 3000),
        ("一万二千", 12000), ("半", Decimal("0.5")), ("零", 0), ("叁拾", 30), ("九十九", 99),
        # said short, as people say them (once 305, 2005, 10002, 101)
        ("三百五", 350), ("两千五", 2500), ("一万二", 12000), ("一百一", 110), ("两百二", 220), ("叁佰伍", 350),
        ("三百五十", 350), ("三百零五", 305), ("一千零五十", 1050), ("一万零二", 10002), ("十五", 15), ("一百", 100),
    ],
)
def test_chinese_numerals(text: str, expected: int | Decimal) -> None:
    assert chinese_number(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["可乐", "", "十个", "abc", "一五七三", "二两", "十二三", "一二"])
def test_not_chinese_numerals(text: str) -> None:
    assert chinese_number(text) is None


@pytest.mark.parametrize(
    ("text", "product", "quantity"),
    [
        ("可乐 10箱", "可乐", "10箱"),
        ("可乐10箱", "可乐", "10箱"),
        ("可乐 x10", "可乐", "10"),
        ("可乐x10", "可乐", "10"),
        ("可乐 X10", "可乐", "10"),
        ("可乐*10", "可乐", "10"),
        ("可乐 ×10", "可乐", "10"),
        ("可乐 １０箱", "可乐", "10箱"),
        ("可乐　１０", "可乐", "10"),
        ("可乐 两箱", "可乐", "2箱"),
        ("雪碧十二瓶", "雪碧", "12瓶"),
        ("雪碧 十二", "雪碧", "12"),
        ("可乐 一箱半", "可乐", "1.5箱"),
        ("可乐 半箱", "可乐", "0.5箱"),
        ("牙膏 3箱零12支", "牙膏", "3箱12支"),
        ("牙膏 3箱12支", "牙膏", "3箱12支"),
        ("牙膏 3箱又12支", "牙膏", "3箱12支"),
        ("可乐 1箱 6罐", "可乐", "1箱6罐"),
        ("可乐 1箱6", "可乐", "1箱6"),
        ("可乐 一箱零六罐", "可乐", "1箱6罐"),
        ("雪碧 三百五瓶", "雪碧", "350瓶"),
        ("可乐 一百二", "可乐", "120"),
        ("雪碧 5", "雪碧", "5"),
        ("雪碧5", "雪碧", "5"),
        ("雪碧 2.5箱", "雪碧", "2.5箱"),
        ("10箱可乐", "可乐", "10箱"),
        ("两箱 雪碧", "雪碧", "2箱"),
        ("七喜 2箱", "七喜", "2箱"),
        ("三只松鼠 2包", "三只松鼠", "2包"),
        ("百事可乐 3瓶", "百事可乐", "3瓶"),
        ("十三香 5袋", "十三香", "5袋"),
        ("可口可乐 330ml 2箱", "可口可乐 330ml", "2箱"),
        ("可口可乐330ml 2箱", "可口可乐330ml", "2箱"),
        ("大米 5公斤", "大米", "5公斤"),
        ("cola 10 cases", "cola", "10箱"),
        ("cola x 10", "cola", "10"),
        ("cola 3 bottles", "cola", "3瓶"),
        ("kkkl 2箱", "kkkl", "2箱"),
        ("A4纸 10包", "a4纸", "10包"),
        # an x that ends a Latin word is no "times" (once `bo` 10, `iphone 15 pro ma` 1台)
        ("box 10", "box", "10"),
        ("fax 3台", "fax", "3台"),
        ("iPhone 15 Pro Max 1台", "iphone 15 pro max", "1台"),
        ("galaxy s24 max 2", "galaxy s24 max", "2"),
        ("cola x 10", "cola", "10"),
    ],
)
def test_item_lines(text: str, product: str, quantity: str) -> None:
    item = split_item(text)
    assert (item.product, q(item.quantity)) == (product, quantity)


@pytest.mark.parametrize(
    "text",
    ["可乐", "可口可乐330ml", "七喜", "三十二度白酒", "a4", "可乐 箱", "cola"],
)
def test_item_lines_without_quantity(text: str) -> None:
    assert split_item(text).quantity is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("118", "118"), ("4箱22罐", "4箱22罐"), ("x10", "10"), ("两箱", "2箱"), ("１２", "12"), ("十二瓶", "12瓶"),
        ("0", "0"), ("-5", "-5"), ("－5箱", "-5箱"),  # read as written; core says why they cannot be taken
    ],
)
def test_whole_text_quantities(text: str, expected: str) -> None:
    assert str(parse_quantity(text)) == expected


@pytest.mark.parametrize("text", ["可乐", "价格太高", "", "10箱可乐", "1e9", "-"])
def test_not_quantities(text: str) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("text", "product", "amounts"),
    [
        ("可乐 -5箱", "可乐", [Decimal(-5)]),
        ("可乐-5箱", "可乐", [Decimal(-5)]),
        ("可乐 −2罐", "可乐", [Decimal(-2)]),
        ("-3箱 可乐", "可乐", [Decimal(-3)]),
        ("可乐 -3箱12罐", "可乐", [Decimal(-3), Decimal(-12)]),
        ("可乐 x-5", "可乐", [Decimal(-5)]),
        ("可乐 - 5箱", "可乐", [Decimal(5)]),  # a dash between words separates, it is no sign
        ("可乐 0箱", "可乐", [Decimal(0)]),
        ("可乐 零", "可乐", [Decimal(0)]),
        ("可乐 99999999999999999999箱", "可乐", [Decimal("99999999999999999999")]),
    ],
)
def test_negative_zero_and_huge_quantities_are_read_as_written(text: str, product: str, amounts: list[Decimal]) -> None:
    """A sign was once taken for a separator (`-5箱` became 5箱) and 0 for no quantity at all."""
    item = split_item(text)
    assert item.product == product and item.quantity is not None
    assert [part.amount for part in item.quantity.parts] == amounts
    assert split_item(f"{item.product} {item.quantity}") == item  # written back the same (the choice card does)


@pytest.mark.parametrize(
    ("text", "command_type", "quantities"),
    [
        ("下单 华联 可乐 -5箱", PlaceOrder, ["-5箱"]),
        ("下单 华联 可乐 -5箱 雪碧 3瓶", PlaceOrder, ["-5箱", "3瓶"]),
        ("采购 可乐 -3箱 供应商 太古", RequestPurchase, ["-3箱"]),
    ],
)
def test_orders_and_purchases_keep_the_sign(text: str, command_type: type, quantities: list[str]) -> None:
    command = parse(text)
    assert isinstance(command, PlaceOrder | RequestPurchase) and type(command) is command_type
    assert [str(item.quantity) for item in command.items] == quantities


def test_transfers_and_partial_shipments_keep_the_sign() -> None:
    transfer = parse("调拨 可乐 -2箱 主仓 到 门店")
    assert isinstance(transfer, Transfer) and str(transfer.quantity) == "-2箱" and transfer.source == "主仓"
    ship = parse("发货 SO-20261122-0001 可乐 -1箱")
    assert isinstance(ship, Ship) and [str(item.quantity) for item in ship.items] == ["-1箱"]


@pytest.mark.parametrize(
    ("text", "product", "unread"),
    [("可乐 1e9", "可乐", "1e9"), ("可乐 -1e9", "可乐", "-1e9"), ("可乐 10箱子", "可乐", "10箱子"),
     ("可口可乐 330ml", "可口可乐 330ml", ""), ("可口可乐 1.25L", "可口可乐 1.25l", ""), ("雪碧", "雪碧", "")],
)
def test_a_number_that_is_none_is_told_apart_from_a_missing_quantity(text: str, product: str, unread: str) -> None:
    item = split_item(text)
    assert (item.product, item.quantity, item.unread) == (product, None, unread)


@pytest.mark.parametrize(
    ("text", "customer", "lines"),
    [
        ("下单 华联超市 可乐 10箱，雪碧 5瓶", "华联超市", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐x10、雪碧*5", "华联", [("可乐", "10"), ("雪碧", "5")]),
        ("下单华联 可乐 两箱", "华联", [("可乐", "2箱")]),
        ("下单 华联超市：可乐１０箱", "华联超市", [("可乐", "10箱")]),
        ("下单 华联：可乐10箱；雪碧5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 客户:华联 可乐 3箱", "华联", [("可乐", "3箱")]),
        ("下单 华联 可乐10箱 雪碧5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 七喜 2箱 三只松鼠 2包", "华联", [("七喜", "2箱"), ("三只松鼠", "2包")]),
        ("下单 华联 可乐 1箱 6罐 雪碧 2瓶", "华联", [("可乐", "1箱6罐"), ("雪碧", "2瓶")]),
        ("下单 华联\n可乐 10箱\n雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("开单 华联 kkkl 2箱", "华联", [("kkkl", "2箱")]),
        ("order 华联 cola 10 cases, sprite x5", "华联", [("cola", "10箱"), ("sprite", "5")]),
        ("ORDER hualian cola 3", "hualian", [("cola", "3")]),
        ("下单 华联 可乐", "华联", [("可乐", "")]),
        ("订货 华联 牙膏 3箱零12支", "华联", [("牙膏", "3箱12支")]),
        ("下单 华联 可乐 10箱；雪碧 5瓶;七喜 2箱", "华联", [("可乐", "10箱"), ("雪碧", "5瓶"), ("七喜", "2箱")]),
        ("下单 华联 可乐 10\n雪碧 5", "华联", [("可乐", "10"), ("雪碧", "5")]),  # the first new line once ran on
        ("下单 华联 可乐 10箱/雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10 / 雪碧 5", "华联", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 两箱/雪碧 五瓶", "华联", [("可乐", "2箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱还有雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱 还有 雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱 和 雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        # Kept together: a 和 that begins a name (和其正), 和 inside a quantity, a / before a unit.
        ("下单 华联 和其正 2箱", "华联", [("和其正", "2箱")]),
        ("下单 华联 可乐 2箱 和其正 3箱", "华联", [("可乐", "2箱"), ("和其正", "3箱")]),
        # A 和 glued to a quantity separates as read; the handler asks the catalog whether it begins 和路雪.
        ("下单 华联 可乐 10箱和路雪 2盒", "华联", [("可乐", "10箱"), ("路雪", "2盒")]),
        ("下单 华联 牙膏 3箱和12支", "华联", [("牙膏", "3箱12支")]),
        ("下单 华联 可乐 24罐/箱 2箱", "华联", [("可乐 24罐/箱", "2箱")]),
        ("下单 华联 可乐 24罐/ 箱 2箱", "华联", [("可乐 24罐/ 箱", "2箱")]),
    ],
)
def test_orders(text: str, customer: str, lines: list[tuple[str, str]]) -> None:
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert command.customer == customer
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # 和, 跟, 加, 及, 以及, 还有, 、 glued to a quantity or standing alone separate lines
        ("下单 华联 可乐 10箱和雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱跟雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱加雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱及雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱以及雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱 以及 雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱、雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10和雪碧 5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 10 跟 雪碧 5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 两箱加雪碧 三瓶", [("可乐", "2箱"), ("雪碧", "3瓶")]),
        ("下单 华联 可乐 十二还有雪碧 五", [("可乐", "12"), ("雪碧", "5")]),
        ("下单 华联 可乐 10箱和七喜 2箱和六个核桃 1箱", [("可乐", "10箱"), ("七喜", "2箱"), ("六个核桃", "1箱")]),
        # a plain space after a quantity, with its unit or bare
        ("下单 华联 可乐 10 雪碧 5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 10 雪碧 5瓶", [("可乐", "10"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐10箱 雪碧5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 10箱 还有 雪碧 5瓶", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 x10 雪碧 x5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 -2 雪碧 3", [("可乐", "-2"), ("雪碧", "3")]),
        ("下单 华联 可乐 2.5箱 雪碧 1.5箱", [("可乐", "2.5箱"), ("雪碧", "1.5箱")]),
        ("下单 华联 可乐 1,000 雪碧 5", [("可乐", "1000"), ("雪碧", "5")]),
        ("下单 华联 可乐 10 双汇火腿肠 5 板蓝根 2盒", [("可乐", "10"), ("双汇火腿肠", "5"), ("板蓝根", "2盒")]),
        ("order 华联 cola 10 sprite 5", [("cola", "10"), ("sprite", "5")]),
        # one line: a number or a unit after the space, a spec, digits in the name, 和 inside a quantity
        ("下单 华联 可乐 10 箱", [("可乐", "10箱")]),
        ("下单 华联 可乐 1箱 6", [("可乐", "1箱6")]),
        ("下单 华联 可乐 两箱和三瓶", [("可乐", "2箱3瓶")]),
        ("下单 华联 可口可乐330 10", [("可口可乐330", "10")]),
        ("下单 华联 可口可乐 330 2箱", [("可口可乐 330", "2箱")]),
        ("下单 华联 农夫山泉 550 ml 2箱", [("农夫山泉 550 ml", "2箱")]),
        ("下单 华联 可乐330ml 10箱", [("可乐330ml", "10箱")]),
        ("下单 华联 雪碧2L 3瓶", [("雪碧2l", "3瓶")]),
        ("下单 华联 康师傅红烧牛肉面 5连包 2箱", [("康师傅红烧牛肉面 5连包", "2箱")]),
        ("下单 华联 一加手机 2台", [("一加手机", "2台")]),
        ("下单 华联 维达抽纸 3层100抽 2提", [("维达抽纸 3层100抽", "2提")]),
        # wrong, still lines the handler can name: a line without its quantity
        ("下单 华联 可乐 10箱 雪碧", [("可乐", "10箱"), ("雪碧", "")]),
        ("下单 华联 可乐 10箱和", [("可乐", "10箱")]),  # a 和 left over joins nothing
    ],
)
def test_several_lines_without_commas(text: str, lines: list[tuple[str, str]]) -> None:
    """`可乐 10箱和雪碧 5瓶` and `可乐 10 雪碧 5` were read as one line (可乐 10箱和雪碧, 5瓶)."""
    command = parse(text)
    assert isinstance(command, PlaceOrder) and command.customer == "华联"
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # A 和 / 跟 / 加 / 及 glued to the next word may begin its name: the line keeps it (`connector`) for the catalog,
        # read as the separator when glued to the quantity too, as the name's after a space or a comma.
        ("下单 华联 可乐 10箱和路雪 2盒", [("可乐", "10箱", ""), ("路雪", "2盒", "和路雪")]),
        ("下单 华联 可乐 10和路雪 2", [("可乐", "10", ""), ("路雪", "2", "和路雪")]),
        ("下单 华联 可乐 10箱加多宝 2箱", [("可乐", "10箱", ""), ("多宝", "2箱", "加多宝")]),
        ("下单 华联 可乐 两箱和路雪 三盒", [("可乐", "2箱", ""), ("路雪", "3盒", "和路雪")]),
        ("下单 华联 可乐 10箱 和雪碧 5瓶", [("可乐", "10箱", ""), ("和雪碧", "5瓶", "雪碧")]),
        ("下单 华联 可乐 10箱 跟雪碧 5瓶", [("可乐", "10箱", ""), ("跟雪碧", "5瓶", "雪碧")]),
        ("下单 华联 可乐 10箱，和雪碧 5瓶", [("可乐", "10箱", ""), ("和雪碧", "5瓶", "雪碧")]),
        ("下单 华联 可乐 10 和路雪 2", [("可乐", "10", ""), ("和路雪", "2", "路雪")]),
        ("下单 华联 可乐 2箱 和其正 3箱", [("可乐", "2箱", ""), ("和其正", "3箱", "其正")]),
        ("下单 华联 雪碧 1箱和路雪", [("雪碧", "1箱", ""), ("路雪", "", "和路雪")]),
        (
            "下单 华联 可乐 10箱和七喜 2箱和六个核桃 1箱",
            [("可乐", "10箱", ""), ("七喜", "2箱", "和七喜"), ("六个核桃", "1箱", "和六个核桃")],
        ),
        # Settled by the text: a 和 standing alone or before a space separates, 还有 / 以及 / / are no name's, a first
        # line has no line before it, and a 和 inside a quantity or a name (一加手机) is none
        ("下单 华联 可乐 10箱 和 雪碧 5瓶", [("可乐", "10箱", ""), ("雪碧", "5瓶", "")]),
        ("下单 华联 可乐 10箱和 路雪 2盒", [("可乐", "10箱", ""), ("路雪", "2盒", "")]),
        ("下单 华联 可乐 10箱和，雪碧 5瓶", [("可乐", "10箱", ""), ("雪碧", "5瓶", "")]),
        ("下单 华联 可乐 10箱还有雪碧 5瓶", [("可乐", "10箱", ""), ("雪碧", "5瓶", "")]),
        ("下单 华联 可乐 10箱以及和路雪 2盒", [("可乐", "10箱", ""), ("和路雪", "2盒", "路雪")]),
        ("下单 华联 和其正 2箱", [("和其正", "2箱", "")]),
        ("下单 华联 一加手机 2台 和其正 1箱", [("一加手机", "2台", ""), ("和其正", "1箱", "其正")]),
        ("下单 华联 牙膏 3箱和12支", [("牙膏", "3箱12支", "")]),
        ("下单 华联 可乐 两箱和三瓶", [("可乐", "2箱3瓶", "")]),
    ],
)
def test_a_connector_that_may_begin_a_name_is_left_to_the_catalog(text: str, lines: list[tuple[str, str, str]]) -> None:
    """`可乐 10箱和路雪 2盒` was read as 路雪 and `可乐 10箱 和雪碧 5瓶` as 和雪碧, whatever the catalog held."""
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert [(item.product, q(item.quantity), item.other_product) for item in command.items] == lines


def test_purchases_and_shipments_leave_a_connector_to_the_catalog_alike() -> None:
    purchase = parse("采购 可乐 10箱和路雪 5箱 供应商 太古")
    assert isinstance(purchase, RequestPurchase)
    assert [(item.product, item.other_product) for item in purchase.items] == [("可乐", ""), ("路雪", "和路雪")]
    ship = parse("发货 SO-20261122-0001 可乐 5箱 加多宝 3箱")
    assert isinstance(ship, Ship) and [(item.product, item.other_product) for item in ship.items] == [
        ("可乐", ""), ("加多宝", "多宝"),
    ]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("采购 可乐 10箱和雪碧 5箱 供应商 太古", [("可乐", "10箱"), ("雪碧", "5箱")]),
        ("采购 可乐 100 雪碧 50 供应商 太古", [("可乐", "100"), ("雪碧", "50")]),
        ("采购 可乐 10箱 还有 雪碧 5箱 供应商：太古", [("可乐", "10箱"), ("雪碧", "5箱")]),
    ],
)
def test_purchases_take_several_lines_alike(text: str, lines: list[tuple[str, str]]) -> None:
    command = parse(text)
    assert isinstance(command, RequestPurchase) and command.supplier == "太古"
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


def test_shipping_part_of_an_order_takes_several_lines_alike() -> None:
    command = parse("发货 SO-20261122-0001 可乐 5箱和雪碧 3")
    assert isinstance(command, Ship) and [(item.product, q(item.quantity)) for item in command.items] == [
        ("可乐", "5箱"), ("雪碧", "3")
    ]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # A space after a bare number ends the line, but the number may be inside a name: the line keeps its text
        # (`joins`) for the handler, which reads it with the next one when a product's name holds them.
        ("下单 华联 iphone 15 pro 2台", [("iphone", "15", "iphone 15"), ("pro", "2台", "")]),
        ("下单 华联 iPhone 15 Pro 2台", [("iphone", "15", "iphone 15"), ("pro", "2台", "")]),
        ("下单 华联 iPhone　15　Pro　2台", [("iphone", "15", "iphone 15"), ("pro", "2台", "")]),  # full-width spaces
        ("下单 华联 小米 14 手机 3台", [("小米", "14", "小米 14"), ("手机", "3台", "")]),
        ("下单 华联 小米14 手机 3台", [("小米", "14", "小米14"), ("手机", "3台", "")]),
        ("下单 华联 xiaomi 14 shouji 3台", [("xiaomi", "14", "xiaomi 14"), ("shouji", "3台", "")]),
        ("下单 华联 南孚 5 号电池 2板", [("南孚", "5", "南孚 5"), ("号电池", "2板", "")]),
        ("下单 华联 iphone 15 pro max 1台", [("iphone", "15", "iphone 15"), ("pro max", "1台", "")]),
        ("下单 华联 iphone 15 pro", [("iphone", "15", "iphone 15"), ("pro", "", "")]),  # and no quantity at all
        ("下单 华联 可乐 10 雪碧 5", [("可乐", "10", "可乐 10"), ("雪碧", "5", "")]),  # two products: the catalog says
        ("下单 华联 可乐 10 雪碧 5 七喜 3", [("可乐", "10", "可乐 10"), ("雪碧", "5", "雪碧 5"), ("七喜", "3", "")]),
        (
            "下单 华联 iphone 15 pro 2台 小米 14 手机 3台",
            [("iphone", "15", "iphone 15"), ("pro", "2台", ""), ("小米", "14", "小米 14"), ("手机", "3台", "")],
        ),
        ("华联下单 iphone 15 pro 2台", [("iphone", "15", "iphone 15"), ("pro", "2台", "")]),
        # Settled by the text: a count marked by x or a sign, a unit, a comma, a number or a spec after the space
        ("下单 华联 可乐 x10 雪碧 x5", [("可乐", "10", ""), ("雪碧", "5", "")]),
        ("下单 华联 可乐 -2 雪碧 3", [("可乐", "-2", ""), ("雪碧", "3", "")]),
        ("下单 华联 可乐 10箱 雪碧 5瓶", [("可乐", "10箱", ""), ("雪碧", "5瓶", "")]),
        ("下单 华联 iphone 15，pro 2台", [("iphone", "15", ""), ("pro", "2台", "")]),
        ("下单 华联 iphone 15 2台", [("iphone 15", "2台", "")]),
        ("下单 华联 可乐 330ml 10箱", [("可乐 330ml", "10箱", "")]),
        ("下单 华联 农夫山泉 550 ml 2箱", [("农夫山泉 550 ml", "2箱", "")]),
        # Digits glued to Latin letters are the name's: no line ends after them (once `iphone15` and `pro 2台`)
        ("下单 华联 iphone15 pro 2台", [("iphone15 pro", "2台", "")]),
        ("下单 华联 a4 10 雪碧 5", [("a4", "10", "a4 10"), ("雪碧", "5", "")]),
    ],
)
def test_a_space_after_a_bare_number_ends_a_line_the_catalog_may_join(text: str, lines: list[tuple[str, str, str]]) -> None:
    """`iphone 15 pro 2台` was two lines, `iphone` 15 and `pro` 2台, whatever the catalog held."""
    command = parse(text)
    assert isinstance(command, PlaceOrder) and command.customer == "华联"
    assert [(item.product, q(item.quantity), item.joins) for item in command.items] == lines


def test_purchases_and_shipments_mark_the_lines_the_catalog_may_join_alike() -> None:
    purchase = parse("采购 iPhone 15 Pro 2台 供应商 太古")
    assert isinstance(purchase, RequestPurchase) and purchase.supplier == "太古"
    assert [(item.product, q(item.quantity), item.joins) for item in purchase.items] == [
        ("iphone", "15", "iphone 15"), ("pro", "2台", ""),
    ]
    ship = parse("发货 SO-20261122-0001 小米 14 手机 1台")
    assert isinstance(ship, Ship) and [(item.product, q(item.quantity), item.joins) for item in ship.items] == [
        ("小米", "14", "小米 14"), ("手机", "1台", ""),
    ]


@pytest.mark.parametrize(
    ("text", "product", "quantity", "glued"),
    [
        # A bare number right after a Chinese name: the count, or the name's end (可口可乐330ml)? The handler asks
        # the catalog.
        ("可乐118", "可乐", "118", True),
        ("可口可乐330", "可口可乐", "330", True),
        ("可口可乐1.25", "可口可乐", "1.25", True),
        ("门店 可口可乐330", "门店 可口可乐", "330", True),
        ("可乐十二", "可乐", "12", True),  # Chinese numerals alike (统一 is a name)
        # Settled by the text: a space, a unit, x, a sign, a colon, Latin letters before the digits, a spec unit after
        ("可乐 118", "可乐", "118", False),
        ("可口可乐330 118", "可口可乐330", "118", False),
        ("可乐118罐", "可乐", "118罐", False),
        ("可乐x118", "可乐", "118", False),
        ("可乐-5", "可乐", "-5", False),
        ("可乐:118", "可乐", "118", False),
        ("农夫山泉550ml 20", "农夫山泉550ml", "20", False),
        ("雪碧2L", "雪碧2l", "", False),
        ("可乐330ml", "可乐330ml", "", False),
        ("A4", "a4", "", False),
        ("cola330", "cola330", "", False),
        ("kkkl330", "kkkl330", "", False),
    ],
)
def test_digits_glued_to_a_chinese_name_are_left_to_the_catalog(text: str, product: str, quantity: str, glued: bool) -> None:
    item = split_item(text)
    assert (item.product, q(item.quantity), bool(item.quantity and item.quantity.glued)) == (product, quantity, glued)
    assert split_item(str(item)) == item  # a pick card writes its lines back so


@pytest.mark.parametrize(
    ("text", "product", "quantity", "glued"),
    [
        # Chinese numerals right after a Chinese name, as digits are: the count, or the name's end? The catalog says.
        ("可乐十二", "可乐", "12", "十二"),
        ("雪碧五", "雪碧", "5", "五"),
        ("可乐两", "可乐", "2", "两"),
        ("统一", "统", "1", "一"),  # 统一 冰红茶's brand, once a count of 1 统
        ("可乐一百零五", "可乐", "105", "一百零五"),
        ("可乐半", "可乐", "0.5", "半"),
        ("门店 统一", "门店 统", "1", "一"),
        # settled by the text as digits are: a space, a unit, a prefix, Latin letters before it
        ("可乐 十二", "可乐", "12", ""),
        ("雪碧十二瓶", "雪碧", "12瓶", ""),
        ("可乐一箱半", "可乐", "1.5箱", ""),
        ("可乐x十二", "可乐", "12", ""),
        ("可乐*十二", "可乐", "12", ""),
        ("cola十二", "cola", "12", ""),
        # digits in a row are no count but a name's (国窖1573 written in numerals; 牛栏山 二两, the bottle size)
        ("国窖一五七三", "国窖一五七三", "", ""),
        ("牛栏山二两", "牛栏山二两", "", ""),
        ("牛栏山二两 6瓶", "牛栏山二两", "6瓶", ""),
        ("十三香 5袋", "十三香", "5袋", ""),
        ("三十二度白酒", "三十二度白酒", "", ""),
    ],
)
def test_chinese_numerals_glued_to_a_chinese_name_are_left_to_the_catalog_as_digits_are(
    text: str, product: str, quantity: str, glued: str
) -> None:
    """`可乐十二` was settled by the text as 12 of 可乐, so `盘点 统一` counted 1 of 统 and `国窖一五七三` 3 of 国窖."""
    item = split_item(text)
    assert (item.product, q(item.quantity), item.quantity.glued if item.quantity else "") == (product, quantity, glued)
    assert split_item(str(item)) == item  # written back as typed: a pick card keeps its lines so


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # a bare Chinese numeral before a space ends a line, as a bare number does (once one line 可乐十二 雪碧, 5)
        ("下单 华联 可乐十二 雪碧五", [("可乐", "12", "可乐十二"), ("雪碧", "5", "")]),
        ("下单 华联 可乐 十二 雪碧 五", [("可乐", "12", "可乐 十二"), ("雪碧", "5", "")]),
        ("下单 华联 可乐 两 雪碧 三瓶", [("可乐", "2", "可乐 两"), ("雪碧", "3瓶", "")]),
        ("下单 华联 可乐 一百零五 雪碧 半", [("可乐", "105", "可乐 一百零五"), ("雪碧", "0.5", "")]),
        # and the catalog may join them, as it does digits: 统一 冰红茶 is one name when a product holds it
        ("下单 华联 统一 冰红茶 2瓶", [("统", "1", "统一"), ("冰红茶", "2瓶", "")]),
        # one line: a unit, a number or a spec after the space, a numeral inside a word
        ("下单 华联 可乐 两 箱", [("可乐", "2箱", "")]),
        ("下单 华联 可乐 两箱 雪碧 三瓶", [("可乐", "2箱", ""), ("雪碧", "3瓶", "")]),
        ("下单 华联 五粮液 普五 2瓶", [("五粮液 普五", "2瓶", "")]),
        ("下单 华联 五粮液 普五 两瓶", [("五粮液 普五", "2瓶", "")]),
        ("下单 华联 洋河 四十二 度 2瓶", [("洋河 四十二 度", "2瓶", "")]),
        ("下单 华联 三只松鼠 2包 七喜 2箱", [("三只松鼠", "2包", ""), ("七喜", "2箱", "")]),
        ("下单 华联 百事可乐 3瓶 六个核桃 1箱", [("百事可乐", "3瓶", ""), ("六个核桃", "1箱", "")]),
    ],
)
def test_a_space_after_a_bare_chinese_numeral_ends_a_line_as_after_digits(
    text: str, lines: list[tuple[str, str, str]]
) -> None:
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert [(item.product, q(item.quantity), item.joins) for item in command.items] == lines


@pytest.mark.parametrize(
    ("text", "product", "quantity", "glued"),
    [
        ("盘点 可口可乐330 118", "可口可乐330", "118", False),
        ("盘点 门店 可口可乐330", "门店 可口可乐", "330", True),  # the handler: 可口可乐330ml, which count?
        ("盘点 可乐 118", "可乐", "118", False),
        ("盘点 可乐118", "可乐", "118", True),  # the handler: no name holds 可乐118, so 118 of 可乐
        ("盘点 农夫山泉550ml 20", "农夫山泉550ml", "20", False),
        ("盘点 雪碧2L 6瓶", "雪碧2l", "6瓶", False),
    ],
)
def test_counts_of_products_with_digits_in_their_names(text: str, product: str, quantity: str, glued: bool) -> None:
    command = parse(text)
    assert isinstance(command, Count)
    assert (command.product, q(command.quantity), bool(command.quantity and command.quantity.glued)) == (
        product, quantity, glued,
    )


def test_transfers_write_offs_and_orders_leave_glued_digits_to_the_catalog_alike() -> None:
    transfer = parse("调拨 可口可乐330 主仓 到 门店")
    assert isinstance(transfer, Transfer) and transfer.product == "可口可乐" and transfer.quantity.glued
    spaced = parse("调拨 可口可乐330 20 主仓 到 门店")
    assert isinstance(spaced, Transfer) and (spaced.product, str(spaced.quantity)) == ("可口可乐330", "20")
    write_off = parse("报损 可口可乐330 过期")
    assert isinstance(write_off, WriteOff) and write_off.quantity is not None and write_off.quantity.glued
    assert (write_off.product, write_off.reason) == ("可口可乐", "过期")
    order = parse("下单 华联 可口可乐330、雪碧5")
    assert isinstance(order, PlaceOrder) and [str(item) for item in order.items] == ["可口可乐330", "雪碧5"]
    assert parse("库存 可口可乐330") == StockQuery("可口可乐330")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("确认", ConfirmDraft()), ("確認", ConfirmDraft()), ("确认下单", ConfirmDraft()), ("确认！", ConfirmDraft()),
        ("确认。", ConfirmDraft()), ("confirm", ConfirmDraft()), ("Confirm", ConfirmDraft()),
        ("提交审批", ConfirmDraft()), ("确认报损", ConfirmDraft()), ("submit", ConfirmDraft()),
        ("修改", EditDraft()), ("edit", EditDraft()), ("修改。", EditDraft()),
        ("撤回", WithdrawCredit()), ("撤回特批", WithdrawCredit()), ("withdraw", WithdrawCredit()),
        ("申请特批", RequestCredit()), ("特批确认", RequestCredit()), ("特批 客户下周回款", RequestCredit("客户下周回款")),
        ("申请特批：老客户", RequestCredit("老客户")), ("request credit", RequestCredit()),
        ("取消", CancelFlow()), ("cancel", CancelFlow()), ("取消！", CancelFlow()), ("算了", CancelFlow()),
        # Only words that clearly mean the button: a 好 or 确定 confirms no order, nor does a question.
        ("确定", Unknown("确定")), ("好", Ack()), ("好的", Ack()), ("ok", Ack()), ("确认？", Unknown("确认？")),
        ("确认收货", Unknown("确认收货")), ("修改 可乐 10箱", Unknown("修改 可乐 10箱")), ("editing", Unknown("editing")),
    ],
)
def test_the_buttons_of_a_draft_card_may_be_typed(text: str, expected: object) -> None:
    """确认 and 修改 once got 没看懂 and the help card; people type them rather than press."""
    assert parse(text) == expected


def test_a_command_without_arguments_may_end_in_a_full_stop_or_exclamation_mark() -> None:
    """取消。 once got 没看懂 and the help card."""
    assert [parse(text) for text in ("临期。", "缺货!", "待审批！", "取消。", "取消！")] == [
        NearExpiry(), LowStock(), PendingApprovals(), CancelFlow(), CancelFlow()
    ]
    assert parse("取消？") == Unknown("取消？")


@pytest.mark.parametrize(
    ("text", "customer", "lines"),
    [
        ("给华联下单 可乐10箱", "华联", [("可乐", "10箱")]),
        ("帮华联下单 可乐 10箱", "华联", [("可乐", "10箱")]),
        ("华联下单 可乐 10箱", "华联", [("可乐", "10箱")]),
        ("华联超市下单：可乐 10箱，雪碧 5瓶", "华联超市", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("给华联下单可乐10箱", "华联", [("可乐", "10箱")]),
        ("给 华联 下单 可乐 10箱", "华联", [("可乐", "10箱")]),
        ("给華聯下單 可樂10箱", "华联", [("可乐", "10箱")]),
        ("给华联开单 雪碧 5瓶", "华联", [("雪碧", "5瓶")]),
        ("请帮我给华联下单 可乐 10箱", "华联", [("可乐", "10箱")]),
        ("华联下单\n可乐 10箱\n雪碧 5瓶", "华联", [("可乐", "10箱"), ("雪碧", "5瓶")]),
        ("华联下单 可乐 1e9", "华联", [("可乐", "")]),  # a number that is none: the handler names it
        # Words before 下单 that name no customer leave an ordinary 下单.
        ("我要下单 华联 可乐 10箱", "华联", [("可乐", "10箱")]),
        ("帮我下单 华联 可乐 10箱", "华联", [("可乐", "10箱")]),
    ],
)
def test_orders_with_the_customer_before_the_order_word(text: str, customer: str, lines: list[tuple[str, str]]) -> None:
    """给华联下单 可乐10箱 once got 没看懂 and the help card."""
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert command.customer == customer
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要下单", Usage("order")), ("帮我下单", Usage("order")), ("请下单", Usage("order")),
        # Read as an order only with a line that has a quantity: 重复下单 may be a reject reason, a note.
        ("华联下单", Unknown("华联下单")), ("给华联下单", Unknown("给华联下单")), ("怎么下单？", Unknown("怎么下单？")),
        ("华联下单 可乐", Unknown("华联下单 可乐")), ("重复下单", Unknown("重复下单")),
        ("今天 华联下单 可乐 10箱", Unknown("今天 华联下单 可乐 10箱")),  # a customer is one word
        ("三联下单本有货吗", StockQuery("三联下单本")),  # a product's name: the stock question wins
        ("华联订货 可乐 10箱", Unknown("华联订货 可乐 10箱")),  # 订货 after a name may be buying from a supplier
        ("太古采购 可乐 10箱", Unknown("太古采购 可乐 10箱")),
    ],
)
def test_a_customer_first_order_needs_a_line_with_a_quantity_and_other_words_are_not_orders(
    text: str, expected: object
) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "supplier", "lines"),
    [
        ("采购 可乐 200箱 供应商 太古", "太古", [("可乐", "200箱")]),
        ("采购 可乐 200箱，雪碧 100箱 供应商：太古", "太古", [("可乐", "200箱"), ("雪碧", "100箱")]),
        ("进货 可乐 两百箱", "", [("可乐", "200箱")]),
        ("purchase cola 20 cases from swire", "swire", [("cola", "20箱")]),
        ("采购 可乐 50 找 太古", "太古", [("可乐", "50")]),
    ],
)
def test_purchases(text: str, supplier: str, lines: list[tuple[str, str]]) -> None:
    command = parse(text)
    assert isinstance(command, RequestPurchase)
    assert command.supplier == supplier
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("库存 可乐", StockQuery("可乐")),
        ("库存可乐", StockQuery("可乐")),
        ("查库存 可乐", StockQuery("可乐")),
        ("查 6901234567890", StockQuery("6901234567890")),
        ("查6901234567890", StockQuery("6901234567890")),
        ("6901234567890", StockQuery("6901234567890")),
        ("６９０１２３４５６７８９０", StockQuery("6901234567890")),
        ("stock cola", StockQuery("cola")),
        ("Stock Cola", StockQuery("cola")),
        ("可乐还有多少", StockQuery("可乐")),
        ("可乐有货吗？", StockQuery("可乐")),
        ("可乐库存", StockQuery("可乐")),
        ("待审批", PendingApprovals()),
        ("pending", PendingApprovals()),
        ("临期", NearExpiry()),
        ("快过期", NearExpiry()),
        ("缺货", LowStock()),
        ("低库存", LowStock()),
        ("今日销售", TodaySales()),
        ("今天销售", TodaySales()),
        ("sales today", TodaySales()),
        ("帮助", Help()),
        ("help", Help()),
        ("？", Help()),
        ("菜单", Help()),
        ("取消", CancelFlow()),
        ("入库 PO-20261122-0003", Receive("PO-20261122-0003")),
        ("入库 po-20261122-0003", Receive("PO-20261122-0003")),
        ("入库 PO-20261122-0003 批次 L9 到期 2027-05-01", Receive("PO-20261122-0003", "批次 l9 到期 2027-05-01")),
        ("发货 SO-20261122-0001", Ship("SO-20261122-0001")),
        ("ship SO-20261122-0001", Ship("SO-20261122-0001")),
        ("结单 SO-20261122-0007", CloseOrder("SO-20261122-0007")),
        ("结单 so-20261122-0007 客户只要这些", CloseOrder("SO-20261122-0007", "客户只要这些")),
        ("关单 SO-20261122-0007", CloseOrder("SO-20261122-0007")),
        ("close SO-20261122-0007", CloseOrder("SO-20261122-0007")),
        ("撤销报损 BS-20261204-0001", UndoWriteOff("BS-20261204-0001")),
        ("撤销 bs-20261204-0001", UndoWriteOff("BS-20261204-0001")),
        ("撤销报损BS-20261204-0001。", UndoWriteOff("BS-20261204-0001")),
        ("冲销 BS-20261204-0001 数量报错了", UndoWriteOff("BS-20261204-0001")),
        ("undo write off BS-20261204-0001", UndoWriteOff("BS-20261204-0001")),
        ("undo SO-20261204-0001", UndoWriteOff("SO-20261204-0001")),  # the handler says it is no write-off
        ("撤销", Usage("undo")),
        ("撤销报损 昨天那张", Usage("undo")),
        ("绑定 @小刘 仓管", Bind("小刘", "仓管")),
        ("绑定 @小刘 为 销售", Bind("小刘", "销售")),
        ("bind @liu warehouse", Bind("liu", "warehouse")),
    ],
)
def test_simple_commands(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("帮我看下雪碧还有多少", "雪碧"), ("请问可乐还有货吗", "可乐"), ("看看雪碧", "雪碧"), ("查查雪碧", "雪碧"),
        ("查下可乐", "可乐"), ("查一下雪碧的库存", "雪碧"), ("看一下可乐的库存还有多少", "可乐"),
        ("请问一下雪碧现在有多少库存？", "雪碧"), ("请帮我查一下百事可乐还有没有货", "百事可乐"),
        ("我想问下脉动还有吗", "脉动"), ("雪碧还有吗", "雪碧"), ("雪碧有多少箱", "雪碧"), ("雪碧还剩几箱", "雪碧"),
        ("看下雪碧还有几瓶", "雪碧"), ("雪碧还有多少瓶？", "雪碧"), ("可乐有没有货", "可乐"), ("可乐够不够", "可乐"),
        ("主仓还有多少雪碧", "雪碧"), ("你们还有多少雪碧", "雪碧"), ("门店的百事可乐还有多少", "门店的百事可乐"),
        ("可口可乐330还有多少", "可口可乐330"), ("可乐 还有多少?", "可乐"), ("库存 可乐还有多少", "可乐"),
    ],
)
def test_stock_questions_as_people_ask_them(text: str, product: str) -> None:
    """The lead-in and the question around the product are not part of it (门店的… is left to the catalog)."""
    assert parse(text) == StockQuery(product)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("帮我下单", Usage("order")), ("查一下", Usage("stock")), ("看看", Unknown("看看")), ("请问", Unknown("请问")),
     ("还有多少", Unknown("还有多少")), ("有货吗", Unknown("有货吗")), ("今天天气怎么样", Unknown("今天天气怎么样")),
     ("怎么下单？", Unknown("怎么下单？")), ("把可乐调到门店", Unknown("把可乐调到门店")),  # how much, not said
     ("调拨 可乐 到门店", Usage("transfer"))],
)
def test_what_is_no_stock_question(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "product", "quantity"),
    [("盘点 可乐 118", "可乐", "118"), ("盘点 可乐 4箱22罐", "可乐", "4箱22罐"), ("盘点 可乐", "可乐", ""),
     ("盘点 门店 可乐 20", "门店 可乐", "20"), ("count cola 5", "cola", "5")],
)
def test_counts(text: str, product: str, quantity: str) -> None:
    command = parse(text)
    assert isinstance(command, Count)
    assert (command.product, q(command.quantity)) == (product, quantity)


@pytest.mark.parametrize(
    ("text", "product", "quantity", "source", "destination"),
    [
        ("调拨 可乐 20 主仓 到 门店", "可乐", "20", "主仓", "门店"),
        ("调拨 可乐 20箱 从主仓到门店", "可乐", "20箱", "主仓", "门店"),
        ("调拨 可乐 两箱 主仓->门店", "可乐", "2箱", "主仓", "门店"),
        ("调货 雪碧 5瓶 主仓 至 门店仓", "雪碧", "5瓶", "主仓", "门店仓"),
        ("transfer cola 20 main to store", "cola", "20", "main", "store"),
        ("调拨 可乐 20箱 到门店", "可乐", "20箱", "", "门店"),  # the source found by the handler
        ("调拨 可乐 5 到 门店", "可乐", "5", "", "门店"),
        ("把5箱可乐调到门店", "可乐", "5箱", "", "门店"),
        ("把可乐 5箱 从主仓调到门店", "可乐", "5箱", "主仓", "门店"),
        ("将可乐20箱调拨到门店仓。", "可乐", "20箱", "", "门店仓"),
        ("帮我把雪碧两箱移到门店", "雪碧", "2箱", "", "门店"),
        # Digits after the name and then a quantity: the digits are the name's, the quantity is no source.
        ("调拨 雪碧500 3箱 到 门店", "雪碧500", "3箱", "", "门店"),
        ("调拨 可口可乐330 20 到 门店", "可口可乐330", "20", "", "门店"),
        ("调拨 可口可乐330 20 主仓 到 门店", "可口可乐330", "20", "主仓", "门店"),
    ],
)
def test_transfers(text: str, product: str, quantity: str, source: str, destination: str) -> None:
    command = parse(text)
    assert isinstance(command, Transfer)
    assert (command.product, str(command.quantity), command.source, command.destination) == (
        product, quantity, source, destination,
    )


@pytest.mark.parametrize(
    ("text", "product", "quantity", "lot_no", "reason"),
    [
        ("报损 可乐 5罐 破损", "可乐", "5罐", None, "破损"),
        ("报损 门店 可乐 2箱 原因：运输途中压坏", "门店 可乐", "2箱", None, "运输途中压坏"),
        ("报损 牛奶 批次 L0601 过期", "牛奶", "", "l0601", "过期"),  # case-folded; core matches lots so
        ("报损 牛奶 批次:L0601 3盒", "牛奶", "3盒", "l0601", ""),
        ("报损 牛奶", "牛奶", "", None, ""),
        ("报废 雪碧 十二瓶 变质", "雪碧", "12瓶", None, "变质"),
        ("write off cola 5 reason dropped", "cola", "5", None, "dropped"),
    ],
)
def test_write_offs(text: str, product: str, quantity: str, lot_no: str | None, reason: str) -> None:
    command = parse(text)
    assert isinstance(command, WriteOff)
    assert (command.product, q(command.quantity), command.lot_no, command.reason) == (product, quantity, lot_no, reason)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("下单", "order"), ("下单 华联", "order"), ("采购", "purchase"), ("入库", "receive"),
        ("入库 明天", "receive"), ("发货 华联", "ship"), ("调拨 可乐", "transfer"), ("调拨 可乐 主仓 到 门店", "transfer"),
        ("绑定 小刘", "bind"), ("盘点", "count"), ("库存", "stock"), ("结单", "close"), ("结单 华联", "close"),
        ("close", "close"), ("发货 SO-20261122-0001 可乐", "ship"), ("报损", "write_off"), ("报损 可乐 1e9", "write_off"),
    ],
)
def test_wrong_or_incomplete_commands_get_their_usage(text: str, family: str) -> None:
    assert parse(text) == Usage(family)


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("下单 华联 可乐 1,000箱", [("可乐", "1000箱")]),  # once 可乐 1 and a line “000箱”
        ("下单 华联 可乐 12,000箱", [("可乐", "12000箱")]),
        ("下单 华联 可乐 1,000,000罐", [("可乐", "1000000罐")]),
        ("下单 华联 可乐 1,000箱，雪碧 5瓶", [("可乐", "1000箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 1,200箱 雪碧 5瓶", [("可乐", "1200箱"), ("雪碧", "5瓶")]),
        ("下单 华联 可乐 2,500.5箱", [("可乐", "2500.5箱")]),
        ("下单 华联 可乐 1，000箱", [("可乐", "1000箱")]),  # a full-width comma alike: the digits decide
        ("下单 华联 可乐 10，雪碧 5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 10,雪碧 5", [("可乐", "10"), ("雪碧", "5")]),
        ("下单 华联 可乐 1,00箱", [("可乐", "1"), ("00箱", "")]),  # not three digits: two lines, as typed
        ("下单 华联 可乐 1,0005", [("可乐", "1"), ("0005", "")]),
        ("下单 华联 可乐 10,100%橙汁 2箱", [("可乐", "10"), ("100%橙汁", "2箱")]),  # a name after the digits
        ("下单 华联 可乐 10,330ml雪碧 2箱", [("可乐", "10"), ("330ml雪碧", "2箱")]),
    ],
)
def test_a_comma_before_three_digits_that_end_the_number_groups_thousands(text: str, lines: list[tuple[str, str]]) -> None:
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert [(item.product, q(item.quantity)) for item in command.items] == lines


def test_thousands_are_read_in_counts_transfers_and_answers_too() -> None:
    assert parse("盘点 可乐 1,000") == Count("可乐", parse_quantity("1000"))
    transfer = parse("调拨 可乐 1,000 主仓 到 门店")
    assert isinstance(transfer, Transfer) and str(transfer.quantity) == "1000"
    assert str(parse_quantity("1,200")) == "1200"


@pytest.mark.parametrize(
    "text",
    ["今天天气怎么样", "", "   ", "ordering pizza", "stocks", "😀", "临期了吗什么时候", "你好 库存多少钱", "谢谢你们的可乐"],
)
def test_anything_else_is_unknown(text: str) -> None:
    assert isinstance(parse(text), Unknown)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好", Greeting()), ("您好！", Greeting()), ("在吗？", Greeting()), ("在吗", Greeting()), ("hi", Greeting()),
        ("Hello", Greeting()), ("你好呀", Greeting()), ("早上好", Greeting()),
        ("谢谢", Thanks()), ("多谢！", Thanks()), ("辛苦了", Thanks()), ("谢谢啦~", Thanks()), ("thanks", Thanks()),
        ("好的", Ack()), ("收到", Ack()), ("OK", Ack()), ("ok！", Ack()), ("嗯嗯", Ack()), ("好的。", Ack()),
    ],
)
def test_greetings_thanks_and_acknowledgements_are_told_apart_from_the_unknown(text: str, expected: object) -> None:
    """They once got 没看懂 and the help card: a hello deserves a hello, a thank-you a 不客气."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text", ["👍", "👌", "🙏", "🆗", "👍🏻", "🙏🏼🙏🏼", "👍👍👍", " 👌 ", "👍\ufe0f", "👍 👌"],
)
def test_a_message_of_only_thumbs_up_ok_or_folded_hands_is_an_acknowledgement(text: str) -> None:
    """A lone 👍 once got 没看懂 and the help card, as a 好的 did; skin tones and repeats alike."""
    assert parse(text) == Ack()


@pytest.mark.parametrize("text", ["😀", "❤️", "🎉", "👍😀", "🙏❤️"])
def test_other_emoji_alone_are_not_understood(text: str) -> None:
    assert parse(text) == Unknown(text)


@pytest.mark.parametrize("text", ["[强]", "[OK]", "[ok]", "[抱拳]", "[握手]", "[赞]", "[强][强]", " [强] ", "👍[强]", "［强］"])
def test_a_lone_nod_code_from_wecom_or_dingtalk_is_an_acknowledgement(text: str) -> None:
    """WeCom and DingTalk send their emoticons as text: a lone [强] got 没看懂 and the help card."""
    assert parse(text) == Ack()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("库存 可乐[微笑]", StockQuery("可乐")),
        ("库存 可乐 [玫瑰]", StockQuery("可乐")),
        ("[微笑]库存 可乐", StockQuery("可乐")),
        ("盘点 可乐 118[强]", Count("可乐", parse_quantity("118"))),
        ("下单 华联 可乐10箱[强]雪碧5瓶", PlaceOrder("华联", (split_item("可乐 10箱"), split_item("雪碧 5瓶")))),
        ("收到[强]", Ack()), ("好的[OK]", Ack()), ("谢谢[抱拳]", Thanks()), ("你好[微笑]", Greeting()),
        # Only the known codes: other brackets are text, maybe a name's
        ("库存 [特价]可乐", StockQuery("[特价]可乐")),
        ("库存 可乐[罐装]", StockQuery("可乐[罐装]")),
        ("[微笑]", Unknown("[微笑]")), ("[玫瑰]", Unknown("[玫瑰]")), ("[强][微笑]", Unknown("[强][微笑]")),
        ("[强", Unknown("[强")), ("强", Unknown("强")),
        ("下单 华联 [微笑]", Usage("order")), ("盘点 [强]", Usage("count")),
    ],
)
def test_emoticon_codes_are_no_part_of_commands_or_names(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("庫存 可樂", StockQuery("可乐")),
        ("下單 華聯超市 可樂 10箱", PlaceOrder("华联超市", (split_item("可乐 10箱"),))),
        ("採購 可樂 200箱 供應商 太古", RequestPurchase((split_item("可乐 200箱"),), "太古")),
        ("盤點 可樂 118", Count("可乐", parse_quantity("118"))),
        ("調撥 可樂 20箱 主倉 到 門店", Transfer("可乐", QuantityText((QuantityPart(Decimal(20), "箱"),)), "主仓", "门店")),
        ("臨期", NearExpiry()), ("缺貨", LowStock()), ("今日銷售", TodaySales()), ("幫助", Help()),
        ("待審批", PendingApprovals()), ("謝謝", Thanks()),
    ],
)
def test_traditional_chinese_reads_as_simplified(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("库存 可乐👍", StockQuery("可乐")),
        ("库存 可乐 ❤️", StockQuery("可乐")),  # with its variation selector
        ("👍🏻库存 可乐", StockQuery("可乐")),  # and a skin tone
        ("库存 可乐👨‍👩‍👧", StockQuery("可乐")),  # a sequence joined by ZWJ
        ("stock👍cola", StockQuery("cola")),
        ("库存 可口可乐®", StockQuery("可口可乐")),
        ("库存 五粮液 52°", StockQuery("五粮液 52°")),  # the degree sign is part of a baijiu's name
        ("下单 华联 可乐 10箱🙏", PlaceOrder("华联", (split_item("可乐 10箱"),))),
        ("下单 华联 可乐10箱👍雪碧5瓶", PlaceOrder("华联", (split_item("可乐 10箱"), split_item("雪碧 5瓶")))),
        ("谢谢🙏", Thanks()),
        ("你好😊", Greeting()),
    ],
)
def test_emoji_and_pictographs_are_no_part_of_names(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_the_traditional_to_simplified_step_leaves_simplified_words_as_they_are() -> None:
    """Every command word and unit, and words t2s might take for traditional (干, 面, 后, 发), are kept."""
    words = [word for _family, family_words in _WORDS for word in family_words if word != "？"] + list(_UNIT_WORDS)
    words += ["干果", "方便面", "后付", "发货", "只", "斤", "着色", "里脊", "台灯", "系带", "松子", "卷纸"]
    assert [fold(word) for word in words] == [word.lower() for word in words]


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("下单 华联 雪碧 5罐", [["罐"]]),
        ("下单 华联 sprite 5 cans", [["罐"]]),
        ("下单 华联 雪碧5罐、雪碧 2瓶", [["罐"], ["瓶"]]),
        ("下单 华联 雪碧 1箱零6罐", [["箱", "罐"]]),
        ("下单 华联 雪碧 5", [[""]]),
    ],
)
def test_order_lines_keep_the_unit_written_so_it_can_tell_products_apart(text: str, units: list[list[str]]) -> None:
    """`雪碧 5罐` names the can (330ml, 罐), not the bottle (500ml, 瓶): the handler narrows by it."""
    command = parse(text)
    assert isinstance(command, PlaceOrder)
    assert [[part.unit for part in item.quantity.parts] for item in command.items if item.quantity] == units


def test_shipping_part_of_an_order_names_products_and_quantities() -> None:
    command = parse("发货 SO-20261122-0001 可乐 5箱，雪碧 3瓶")
    assert isinstance(command, Ship) and command.document_no == "SO-20261122-0001"
    assert [(item.product, str(item.quantity)) for item in command.items] == [("可乐", "5箱"), ("雪碧", "3瓶")]
    assert parse("closes SO-20261122-0001") == Unknown("closes SO-20261122-0001")


@pytest.mark.parametrize(
    ("text", "lot_no", "produced", "expiry"),
    [
        ("批次 L240501 生产 2026-05-01 到期 2027-05-01", "L240501", "2026-05-01", "2027-05-01"),
        ("l9 生产 2026/11/1", "L9", "2026-11-01", None),
        ("M7 exp 20270630", "M7", None, "2027-06-30"),
        ("批次：A-12 到期:2027.5.1", "A-12", None, "2027-05-01"),
        ("批号 B3 有效期至 2027年6月30日", "B3", None, "2027-06-30"),
        ("到期 2027-06-30", "", None, "2027-06-30"),
        ("ＬＯＴ７ 生产日期 2026-10-01", "LOT7", "2026-10-01", None),
        ("lot: x1 exp 2027-01-31", "X1", None, "2027-01-31"),
        ("lot no 88 mfd 2026-09-30", "88", "2026-09-30", None),
    ],
)
def test_lot_details_as_people_type_them(text: str, lot_no: str, produced: str | None, expiry: str | None) -> None:
    details = parse_lot_details(text, RECEIVED_ON)
    assert details.problems == ()
    assert (details.lot_no, details.production_date, details.expiry_date) == (
        lot_no, produced and date.fromisoformat(produced), expiry and date.fromisoformat(expiry)
    )


def test_lot_details_name_dates_that_do_not_exist_or_cannot_be_settled() -> None:
    assert parse_lot_details("L9 到期 2027-02-30", RECEIVED_ON).problems == ("到期日“2027-02-30”不是有效日期（例：2027-05-01）",)
    assert parse_lot_details("L9 生产 2026-13-01", RECEIVED_ON).problems == ("生产日期“2026-13-01”不是有效日期（例：2027-05-01）",)
    assert parse_lot_details("L9 2027-02-30", RECEIVED_ON).problems == ("日期“2027-02-30”不是有效日期（例：2027-05-01）",)
    three = parse_lot_details("L1 2026-05-01 2027-05-01 2027-06-01", RECEIVED_ON)
    assert three.lot_no == "L1" and three.problems == tuple(
        f"日期“{d}”是生产日期还是到期日？请写“生产 {d}”或“到期 {d}”" for d in ("2026-05-01", "2027-05-01", "2027-06-01")
    )


RECEIVED_ON = date(2026, 12, 6)


@pytest.mark.parametrize(
    ("text", "produced", "expiry"),
    [
        ("L1 2027-05-01", None, "2027-05-01"),  # still to come: nothing is produced in the future
        ("L1 2027年6月1日", None, "2027-06-01"),
        ("L1 2026-11-20", "2026-11-20", None),  # already past: the production date (expiry from shelf life)
        ("L1 2026-12-06", "2026-12-06", None),  # made today
        ("L1 2027-05-01 2026-05-01", "2026-05-01", "2027-05-01"),  # two, in any order: earlier is production
        ("L1 20260501 20270501", "2026-05-01", "2027-05-01"),
        ("L1 生产 2026-05-01 2027-05-01", "2026-05-01", "2027-05-01"),  # beside a keyed date: the other one
        ("L1 2026-05-01 到期 2027-05-01", "2026-05-01", "2027-05-01"),
    ],
)
def test_dates_without_a_word_are_read_as_a_label_prints_them(text: str, produced: str | None, expiry: str | None) -> None:
    details = parse_lot_details(text, RECEIVED_ON)
    assert details.problems == ()
    assert (details.lot_no, details.production_date, details.expiry_date) == (
        "L1", produced and date.fromisoformat(produced), expiry and date.fromisoformat(expiry)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("告警路由", ShowAlertRoutes()),
        ("Alert Routes", ShowAlertRoutes()),
        ("告警路由 查看", ShowAlertRoutes()),
        ("告警路由 添加 缺货 主仓 本群", AddAlertRoute(("low_stock",), ("主仓",), "group")),
        ("告警路由添加 缺货、临期 主仓 饮料 到 本群", AddAlertRoute(("low_stock", "near_expiry"), ("主仓", "饮料"), "group")),
        ("告警路由 添加 临期 乳制品 仓管", AddAlertRoute(("near_expiry",), ("乳制品",), "role", "仓管")),
        ("告警路由 添加 日报 老板 私聊", AddAlertRoute(("digest",), (), "role", "老板")),
        ("告警路由 添加 日报 老板私聊", AddAlertRoute(("digest",), (), "role", "老板")),
        ("告警路由 添加 日报 群机器人 purchasing", AddAlertRoute(("digest",), (), "robot", "purchasing")),
        ("alert routes add low-stock near-expiry MAIN this group", AddAlertRoute(("low_stock", "near_expiry"), ("main",), "group")),
        ("alert routes add digest robot ops", AddAlertRoute(("digest",), (), "robot", "ops")),
        ("告警路由 添加 库存 本群", AddAlertRoute(("库存",), (), "group")),  # the handler names the unknown kind
        ("告警路由 删除 3", RemoveAlertRoute(3)),
        ("告警路由 删除#12", RemoveAlertRoute(12)),
        ("alert routes delete 4", RemoveAlertRoute(4)),
        ("告警路由 删除 主仓", Usage("alert_routes")),
        ("告警路由 添加 缺货", Usage("alert_routes")),
        ("告警路由 添加 缺货 主仓 饮料 门店 本群", Usage("alert_routes")),
        ("告警路由 修改 3", Usage("alert_routes")),
        ("缺货", LowStock()),
    ],
)
def test_alert_route_commands(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "number"),
    [("2", 2), ("２", 2), ("第2个", 2), ("选2", 2), ("选择 3", 3), ("2号", 2), ("二", 2), ("第十个", 10), ("选一", 1), ("12", 12)],
)
def test_a_row_number_typed_for_a_pick_card(text: str, number: int) -> None:
    assert parse(text) == PickRow(number, text)


@pytest.mark.parametrize("text", ["0", "118", "可乐2", "2箱", "第2行有问题"])
def test_other_numbers_are_no_row(text: str) -> None:
    assert not isinstance(parse(text), PickRow)
