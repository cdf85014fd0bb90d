"""退货, 收款, 付款, 欠款 and 应付 as people type them (kept apart from test_parser.py, which reads lines)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.parser import (
    FREE_TEXT,
    ConfirmDraft,
    Payables,
    PaySupplier,
    Receivables,
    ReceivePayment,
    RequestPurchase,
    ReturnGoods,
    ReturnWithoutDocument,
    Unknown,
    Usage,
    parse,
    parse_money,
)

D = Decimal


@pytest.mark.parametrize(
    ("text", "document_no", "lines", "reason"),
    [
        ("退货 SO-20261122-0007 可乐 2箱", "SO-20261122-0007", [("可乐", "2箱")], ""),
        ("退货 SO-20261122-0007 可乐 2箱 原因 破损", "SO-20261122-0007", [("可乐", "2箱")], "破损"),
        ("退货 so-20261122-0007 可乐 2箱 破损", "SO-20261122-0007", [("可乐", "2箱")], "破损"),  # a known reason alone
        ("退货 SO-20261122-0007 可乐 2箱，雪碧 3瓶 原因：客户说口味不对", "SO-20261122-0007",
         [("可乐", "2箱"), ("雪碧", "3瓶")], "客户说口味不对"),
        ("客户退货 SH-20261122-0002 雪碧 1箱零6瓶 发错货", "SH-20261122-0002", [("雪碧", "1箱6瓶")], "发错货"),
        ("return SO-20261122-0007 cola 2", "SO-20261122-0007", [("cola", "2")], ""),
        ("return SO-20261122-0007 cola 2 reason damaged", "SO-20261122-0007", [("cola", "2")], "damaged"),
        ("退货 PO-20261122-0003 可乐 2箱", "PO-20261122-0003", [("可乐", "2箱")], ""),
        ("采购退货 PO-20261122-0003 可乐 2箱 质量问题", "PO-20261122-0003", [("可乐", "2箱")], "质量问题"),
        ("退货 SO-20261122-0007 可乐 -2箱", "SO-20261122-0007", [("可乐", "-2箱")], ""),  # core refuses it by name
    ],
)
def test_returns_name_the_document_the_products_and_maybe_why(
    text: str, document_no: str, lines: list[tuple[str, str]], reason: str
) -> None:
    command = parse(text)
    assert isinstance(command, ReturnGoods)
    assert command.document_no == document_no and command.reason == reason
    assert [(item.product, str(item.quantity)) for item in command.items] == lines


def test_a_return_without_its_document_is_free_text_for_a_waiting_flow() -> None:
    """临期's 标记处理 asks for a note, and 退货 is one (its quick button says so): a flow must still get it."""
    for text in ("退货", "退货 可乐 2箱", "退货给太古"):
        assert parse(text) == ReturnWithoutDocument(text)
    assert ReturnWithoutDocument in FREE_TEXT
    assert parse("退货 SO-20261122-0007") == Usage("return")  # the document, but no product and quantity
    assert parse("退货 SO-20261122-0007 可乐") == Usage("return")
    assert parse("采购 可乐 10箱") == RequestPurchase(parse("采购 可乐 10箱").items, "")  # 采购退货 took no word from it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收款 华联 5000", ReceivePayment("华联", D(5000))),
        ("收款 华联 ¥5,000 转账", ReceivePayment("华联", D(5000), "转账")),
        ("收款 华联 ￥ 5,000.50 微信 尾款", ReceivePayment("华联", D("5000.50"), "微信", "尾款")),
        ("收款 华联超市 5000元 现金", ReceivePayment("华联超市", D(5000), "现金")),
        ("收款 华联 1.2万", ReceivePayment("华联", D(12000))),
        ("收款 5000 华联", ReceivePayment("华联", D(5000))),  # the amount first
        ("收款华联5000", ReceivePayment("华联", D(5000))),  # glued
        ("回款 华联 300", ReceivePayment("华联", D(300))),
        ("payment 华联 5000", ReceivePayment("华联", D(5000))),
        ("receive payment 华联 100 cash", ReceivePayment("华联", D(100), "cash")),
        ("收款 华联 0", ReceivePayment("华联", D(0))),  # read as written: core refuses 0, negatives, fractions of a cent
        ("收款 华联 -500", ReceivePayment("华联", D(-500))),
        ("收款 华联 12.345", ReceivePayment("华联", D("12.345"))),
        ("付款 太古 3000", PaySupplier("太古", D(3000))),
        ("pay 太古 ¥3,000.50 转账", PaySupplier("太古", D("3000.50"), "转账")),
        ("收款", Usage("collect")), ("收款 华联", Usage("collect")), ("收款 华联 五千", Usage("collect")),
        ("收款 华联 1e9", Usage("collect")), ("付款 太古", Usage("pay")), ("付款", Usage("pay")),
    ],
)
def test_payments_name_the_partner_and_the_amount_in_yuan(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5000", D(5000)), ("¥5000.5", D("5000.5")), ("5000块", D(5000)), ("3千", D(3000)), ("-1", D(-1)),
     ("五千", None), ("1e9", None), ("nan", None), ("5000.", None), ("", None)],
)
def test_money_is_read_exactly_or_not_at_all(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("欠款", Receivables()), ("应收", Receivables()), ("应收款", Receivables()), ("receivables", Receivables()),
        ("欠款 华联", Receivables("华联")), ("应收 华联超市", Receivables("华联超市")), ("欠款华联？", Receivables("华联")),
        ("balance 华联", Receivables("华联")),
        # asked as a question
        ("华联欠多少", Receivables("华联")), ("华联超市还欠我们多少钱？", Receivables("华联超市")),
        ("华联的欠款", Receivables("华联")), ("请问华联现在欠多少", Receivables("华联")), ("华联欠款多少", Receivables("华联")),
        ("应付", Payables()), ("应付 太古", Payables("太古")), ("payables", Payables()),
    ],
)
def test_balances_are_asked_for_everyone_or_one_partner(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["确认退货", "确认收款", "确认付款"])
def test_a_card_s_first_button_may_be_typed_by_its_name(text: str) -> None:
    assert parse(text) == ConfirmDraft()


def test_words_near_the_new_ones_keep_their_meaning() -> None:
    assert parse("确认收货") == Unknown("确认收货")
    assert parse("returns") == Unknown("returns")
    assert parse("paying") == Unknown("paying")
