"""收款, 付款, 欠款 and 应付 from chat: a card first, booked once by its maker; never more than is owed."""

from __future__ import annotations

import re
from decimal import Decimal
from unittest.mock import ANY

from sqlmodel import col, select

from core.accounts import customer_balance, supplier_balance
from core.approval import decide
from core.db import Database
from core.documents import OrderLineInput, Payment, PurchaseOrderLine
from core.models import Customer, Product, Supplier
from core.purchasing import (
    ReceiptLineInput,
    create_purchase_order,
    receive_purchase_order,
    submit_purchase_order,
)
from tests.scenario.conftest import Console, card, texts


async def _shipped(console: Console, lines: str) -> str:
    """An order of 小王's for 华联 confirmed and shipped by 老李; the shipment's number."""
    confirmed = texts(await console.press("wang", card(await console.say("wang", f"下单 华联 {lines}")), "确认"))
    number = re.search(r"已下单 (SO-\d{8}-\d{4})", confirmed).group(1)
    shipped = texts(await console.say("li", f"发货 {number}"))
    return re.search(r"出库单 (SH-\d{8}-\d{4})", shipped).group(1)


async def _owes(console: Console) -> tuple[str, str]:
    """华联 owes ¥216.00: ¥168.00 (2箱 可乐) shipped first, then ¥48.00 (1箱 雪碧)."""
    return await _shipped(console, "可乐330 2箱"), await _shipped(console, "雪碧 1箱")


async def _balance(db: Database) -> Decimal:
    async with db.session() as session:
        customer = await session.scalar(select(Customer))
        return await customer_balance(session, customer.id or 0)


async def _payments(db: Database) -> list[tuple[Decimal, str, str]]:
    async with db.session() as session:
        rows = (await session.scalars(select(Payment).order_by(col(Payment.id)))).all()
        return [(p.amount, p.method, p.note) for p in rows]


async def test_a_payment_is_shown_with_the_balance_then_booked_once_by_its_maker(console: Console, db: Database) -> None:
    first, second = await _owes(console)
    shown = card(await console.say("wang", "收款 华联 ¥200 转账 上月货款"))
    assert shown["title"] == "收款确认 · 华联超市"
    assert shown["fields"] == [["客户", "华联超市"], ["收款金额", "¥200.00"], ["方式", "转账"], ["备注", "上月货款"],
                               ["收款前欠款", "¥216.00"], ["收款后欠款", "¥16.00"]]
    rows = shown["tables"][0]["rows"]
    assert [(row[0], row[2], row[3]) for row in rows] == [(first, "¥168.00", "¥168.00"), (second, "¥48.00", "¥32.00")]
    assert [b["label"] for b in shown["buttons"]] == ["确认收款", "取消"]
    assert await _payments(db) == []  # nothing booked yet

    assert "这是小王登记的收款，只有小王本人可以确认" in texts(await console.press("zhang", shown, "确认收款"))
    pressed = await console.press("wang", shown, "确认收款")
    said = f"已收到华联超市 ¥200.00（转账），冲抵 {first}、{second}；华联超市还欠 ¥16.00。"
    assert said in texts(pressed)
    done = next(r for r in pressed if r["type"] == "card")
    assert done["card_id"] == shown["card_id"] and done["buttons"] == [] and done["status"].startswith("已收款 ¥200.00 · 小王")
    assert texts(await console.press("wang", shown, "确认收款")) == f"这笔收款已登记：{said}"  # a double press
    assert await _payments(db) == [(Decimal("168.00"), "转账", "上月货款"), (Decimal("32.00"), "转账", "上月货款")]
    assert await _balance(db) == Decimal("16.00")

    card(await console.say("wang", "payment 华联超市 16"))
    assert "已收到华联超市 ¥16.00，冲抵 " in texts(await console.say("wang", "确认收款"))  # typed as its button
    assert texts(await console.say("wang", "欠款 华联")) == "华联超市目前没有欠款。"
    assert await _balance(db) == Decimal(0)

    returned = card(await console.say("wang", f"退货 {second} 雪碧 1瓶"))  # named by its shipment, after it was paid
    assert ["原单", f"出库单 {second}（{dict(returned['fields'])['原单'].split('（')[1][:-1]}）"] in returned["fields"]
    assert ["客户欠款", "¥0.00 → -¥4.00"] in returned["fields"]
    assert "冲减华联超市应收 ¥4.00；华联超市有 ¥4.00 退货款可抵下次货款。" in texts(await console.press("wang", returned, "确认退货"))
    assert texts(await console.say("wang", "欠款")) == "目前没有客户欠款（1 家有退货款可抵下次货款）。"
    assert ["说明", "有 ¥4.00 退货款可抵下次货款"] in card(await console.say("wang", "欠款 华联"))["fields"]
    assert "华联超市 目前没有欠款（有 ¥4.00 退货款可抵下次货款），不能收款（不支持预收款）" in texts(
        await console.say("wang", "收款 华联 4"))


async def test_amounts_that_are_no_payment_are_refused_by_name(console: Console, db: Database) -> None:
    assert "华联超市 目前没有欠款，不能收款（不支持预收款）" in texts(await console.say("wang", "收款 华联 100"))
    await _owes(console)
    for text, refusal in (
        ("收款 华联 0", "收款金额必须大于 0"),
        ("收款 华联 -50", "收款金额必须大于 0"),
        ("收款 华联 12.345", "收款金额最多两位小数（到分）：12.345"),
        ("收款 华联 300", "华联超市 目前欠款 ¥216.00，不能收 ¥300.00：收款不能超过欠款（不支持预收款）"),
        ("收款 华联 99999999999999999999", "不能收 ¥99,999,999,999,999,999,999.00"),
        ("收款 华联 五千", "格式: 收款 华联 5000 转账"),
        ("收款 华联", "格式: 收款 华联 5000 转账"),
        ("收款 华联大超市 10", "没有找到客户“华联大超市”"),
        ("收款 太古 10", "没有找到客户“太古”"),
    ):
        assert refusal in texts(await console.say("wang", text)), text
    assert "仓管没有权限登记收款" in texts(await console.say("li", "收款 华联 10"))
    assert "采购没有权限登记收款" in texts(await console.say("chen", "收款 华联 10"))
    assert texts(await console.say("wang", "确认")).startswith("没有待确认的草稿")  # no card was made
    assert await _payments(db) == []


async def test_money_booked_by_a_colleague_meanwhile_refuses_the_stale_card(console: Console, db: Database) -> None:
    """Two people told of the same transfer: the second card's balance is no longer true, so it books nothing."""
    await _owes(console)
    mine = card(await console.say("wang", "收款 华联 100"))
    theirs = card(await console.say("zhang", "收款 华联 100"))
    assert "已收到华联超市 ¥100.00" in texts(await console.press("zhang", theirs, "确认收款"))
    refused = texts(await console.press("wang", mine, "确认收款"))
    assert "华联超市 的欠款已经变了：原来 ¥216.00，现在 ¥116.00（可能同事刚登记了收款或退货），请核对后重新发起" in refused
    assert await _balance(db) == Decimal("116.00")
    cancelled = await console.press("wang", mine, "取消")
    assert "已取消，没有登记这笔收款。" in texts(cancelled)
    assert await _payments(db) == [(Decimal("100.00"), "", "")]


async def test_balances_are_listed_largest_first_and_by_document(console: Console, db: Database) -> None:
    assert texts(await console.say("wang", "欠款")) == "目前没有客户欠款。"
    first, second = await _owes(console)
    async with db.session() as session:
        session.add(Customer(name="联华便利", search_key="联华便利"))
    listed = card(await console.say("zhang", "应收"))
    assert listed["title"] == "客户欠款 · 1 家" and listed["fields"] == [["欠款合计", "¥216.00"]]
    assert listed["tables"][0]["rows"] == [["华联超市", "¥216.00"]]
    detail = card(await console.say("wang", "欠款 华联"))
    assert detail["title"] == "欠款 · 华联超市" and ["欠款合计", "¥216.00"] in detail["fields"]
    assert card(await console.say("wang", "华联还欠多少钱？")) == {**detail, "card_id": ANY}  # asked as people ask
    assert detail["tables"][0]["columns"] == ["单据", "日期", "金额", "已收", "未收", "账龄"]
    assert [(r[0], r[2], r[4], r[5]) for r in detail["tables"][0]["rows"]] == [
        (first, "¥168.00", "¥168.00", "0天"), (second, "¥48.00", "¥48.00", "0天")]
    assert "未设账期" in detail["note"]
    assert "没有找到客户“麦德龙”" in texts(await console.say("wang", "欠款 麦德龙"))
    assert "仓管没有权限查看客户欠款" in texts(await console.say("li", "欠款"))
    assert "华联超市" in texts(await console.in_group("wang", "欠款"))  # no cost in it: a group may hear it
    assert "欠款合计: ¥216.00" in texts(await console.say("zhao", "balance 华联"))  # the owner too


async def _received(db: Database, console: Console) -> None:
    """太古 delivered 2箱 雪碧 at ¥2.50 a bottle: we owe ¥60.00."""
    w = console.world

    async def work(session):  # type: ignore[no-untyped-def]
        sprite = await session.scalar(select(Product).where(col(Product.sku) == "P002"))
        supplier = await session.scalar(select(Supplier))
        order = await create_purchase_order(
            session, w.purchaser, supplier_id=supplier.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(sprite.id, Decimal(2), "箱")],
        )
        await session.flush()
        await submit_purchase_order(session, w.purchaser, order.id)
        await decide(session, w.manager, order.id, approve=True)
        line = await session.scalar(select(PurchaseOrderLine).where(col(PurchaseOrderLine.order_id) == order.id))
        await receive_purchase_order(session, w.warehouse_user, order.id, [ReceiptLineInput(line.id, Decimal(24))])

    await db.transact(work)


async def _owed_to_supplier(db: Database) -> Decimal:
    async with db.session() as session:
        supplier = await session.scalar(select(Supplier))
        return await supplier_balance(session, supplier.id or 0)


async def test_paying_a_supplier_is_for_managers_and_said_only_in_a_direct_chat(console: Console, db: Database) -> None:
    await _received(db, console)
    assert "采购没有权限登记付款" in texts(await console.say("chen", "付款 太古 30"))
    assert "销售没有权限登记付款" in texts(await console.say("wang", "付款 太古 30"))
    assert "目前欠 太古可口可乐 ¥60.00，不能付 ¥100.00：付款不能超过欠款（不支持预付款）" in texts(
        await console.say("zhang", "付款 太古 100"))
    assert texts(await console.in_group("zhang", "付款 太古 30 转账")) == "付款涉及进货金额，卡片已私信发给 张经理。"
    shown = card(await console.replies("zhang"))
    assert shown["title"] == "付款确认 · 太古可口可乐"
    assert ["付款前应付", "¥60.00"] in shown["fields"] and ["付款后应付", "¥30.00"] in shown["fields"]
    said = texts(await console.say("zhang", "确认付款"))  # typed in the direct chat the card went to
    assert re.search(r"已付给太古可口可乐 ¥30.00（转账），冲抵 GR-\d{8}-\d{4}；还欠太古可口可乐 ¥30.00。", said)
    assert await _owed_to_supplier(db) == Decimal("30.00")

    listed = card(await console.say("chen", "应付"))  # the buyer sees what is owed, and is not told to pay
    assert listed["tables"][0]["rows"] == [["太古可口可乐", "¥30.00"]]
    detail = card(await console.say("chen", "应付 太古"))
    assert detail["title"] == "应付 · 太古可口可乐" and "付款请发" not in detail["note"]
    assert "付款请发：付款 太古 金额" in card(await console.say("zhang", "应付 太古"))["note"]
    assert texts(await console.in_group("chen", "应付")) == "应付款涉及进货金额，已私信发给 小陈。"
    assert "销售没有权限查看应付款" in texts(await console.say("wang", "应付"))
