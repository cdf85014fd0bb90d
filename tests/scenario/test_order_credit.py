"""Orders over the customer's credit limit: 申请特批 sends them to the managers (批准特批 / 驳回), a
manager's own order gets 特批确认; every decision is applied once."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

import bot.kv
from core.catalog import save_customer
from core.db import Database
from core.documents import SalesOrder, SalesOrderStatus
from core.models import Customer
from tests.scenario.conftest import Console, card, texts

# 雪碧 3箱 = 36瓶 × ¥4.00 against a limit of ¥100.00
OVER = "华联超市 信用额度 ¥100.00，已欠 ¥0.00，未发货订单 ¥0.00，本单 ¥144.00，超出 ¥44.00，需要经理特批"


async def limit_credit(db: Database) -> None:
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(col(Customer.name) == "华联超市"))
        assert customer is not None
        customer.credit_limit = Decimal("100.00")


def said(replies: list[dict[str, Any]]) -> str:
    """The text replies only (a pressed card's update comes along with them)."""
    return texts([r for r in replies if r["type"] == "text"])


def so_number(text: str) -> str:
    found = re.search(r"SO-\d{8}-\d{4}", text)
    assert found, text
    return found.group(0)


async def request(console: Console, who: str = "wang") -> tuple[dict[str, Any], str]:
    """A draft of 雪碧 3箱 for 华联, refused for credit, sent to the managers: the offer card and the order."""
    draft = card(await console.say(who, "下单 华联 雪碧 3箱"))
    offered = card(await console.press(who, draft, "确认"))
    return offered, so_number(texts(await console.press(who, offered, "申请特批")))


async def test_a_salesperson_asks_the_managers_and_the_first_approval_confirms_the_order(
    console: Console, db: Database
) -> None:
    await limit_credit(db)
    draft = card(await console.say("wang", "下单 华联 雪碧 3箱"))
    refused = await console.press("wang", draft, "确认")
    assert said(refused) == f"没有下单：{OVER}。可以点“申请特批”请经理批准，或点“修改”调整数量。"
    offered = card(refused)
    assert offered["card_id"] == draft["card_id"] and offered["note"] == OVER
    assert [b["label"] for b in offered["buttons"]] == ["申请特批", "修改", "取消"]
    forged = {"user": "wang", "card_id": offered["card_id"], "action": "order.credit_confirm",
              "value": offered["buttons"][0]["value"]}
    assert (await console.client.post("/console/api/actions", json=forged)).status == 202
    assert said(await console.replies("wang")) == "销售没有权限特批超信用额度"

    asked = await console.press("wang", offered, "申请特批")
    number = so_number(said(asked))
    assert said(asked) == (
        f"已申请特批 {number}，等待 张经理、李经理 特批；批准后就下单并预留库存，结果会通知您。不需要了可以点“撤回特批”。"
    )
    assert card(asked)["status"].startswith(f"已申请特批 {number} · 小王 · ")
    assert [b["label"] for b in card(asked)["buttons"]] == ["撤回特批"]
    assert said(await console.press("wang", offered, "申请特批")) == f"这张单已申请特批（{number}），结果会通知您。"

    first, second = card(await console.replies("zhang")), card(await console.replies("zhang2"))
    assert first["card_id"] == second["card_id"] and first["title"] == f"信用特批 · {number}"
    assert [b["label"] for b in first["buttons"]] == ["批准特批", "驳回"] and first["note"] == OVER
    assert {("销售", "小王"), ("客户", "华联超市"), ("合计", "¥144.00")} <= {tuple(f) for f in first["fields"]}
    assert first["tables"][0]["rows"] == [["雪碧 500ml", "3箱", "¥48.00/箱", "¥144.00"]]
    assert "没有权限" in said(await console.press("wang", first, "批准特批"))

    approved = await console.press("zhang", first, "批准特批")
    assert said(approved) == f"已特批 {number}，已下单并预留库存，已通知小王。"
    status = card(approved)["status"]
    assert status.startswith("已特批 · 张经理 · ") and card(approved)["buttons"] == []
    other = card(await console.replies("zhang2"))
    assert other["status"] == status and other["buttons"] == []  # replaced for every manager
    late = said(await console.press("zhang2", second, "批准特批"))
    assert late.startswith("已由 张经理 于 ") and late.endswith(" 特批")
    assert said(await console.press("zhang2", second, "驳回")) == late  # a late 驳回 cancels nothing

    told = await console.replies("wang")
    assert said(told) == f"销售单 {number}（华联超市）已由 张经理 特批，已下单，合计 ¥144.00，库存已预留。"
    mine = next(r for r in told if r.get("card_id") == offered["card_id"])  # no 撤回特批 left to press
    assert mine["title"] == f"销售单 {number}" and mine["buttons"] == [] and mine["tone"] == "success"
    assert mine["status"].startswith(f"已特批 {number} · 张经理 · ")
    assert said(await console.say("wang", "撤回")).startswith("已由 张经理 于 ")
    assert said(await console.say("wang", "确认")) == f"这张单已特批，已下单为 {number}。"
    seen = texts([*refused, *asked, *told])
    assert not any(word in seen for word in ("成本", "进价", "毛利", "¥2.50", "¥30.00"))  # 雪碧 costs ¥2.50 a bottle
    assert "可用: 2箱" in texts(await console.say("li", "库存 雪碧"))
    async with db.session() as session:
        orders = (await session.scalars(select(SalesOrder))).all()
        assert [(o.number, o.status, o.credit_override_by) for o in orders] == [
            (number, SalesOrderStatus.CONFIRMED, console.world.manager.id)
        ]


async def test_a_rejection_tells_the_salesperson_and_reserves_nothing(console: Console, db: Database) -> None:
    await limit_credit(db)
    _, number = await request(console)
    approval = card(await console.replies("zhang2"))
    await console.replies("zhang")
    rejected = await console.press("zhang2", approval, "驳回")
    assert said(rejected) == f"已驳回 {number}，已通知小王。"
    assert card(rejected)["status"].startswith("已驳回 · 李经理 · ") and card(rejected)["buttons"] == []
    assert card(await console.replies("zhang"))["status"] == card(rejected)["status"]
    told = await console.replies("wang")
    assert said(told) == f"销售单 {number}（华联超市）的信用特批被 李经理 驳回，没有下单。"
    mine = next(r for r in told if r["type"] == "card")  # the card 申请特批 was pressed on
    assert mine["title"] == "销售单草稿 · 华联超市" and mine["buttons"] == [] and mine["tone"] == "danger"
    assert mine["status"].startswith(f"已驳回 {number} · 李经理 · ")
    assert said(await console.say("wang", "确认")) == f"这张单的特批申请（{number}）已被驳回，没有下单。"
    late = said(await console.press("zhang", approval, "批准特批"))
    assert late.startswith("已由 李经理 于 ") and late.endswith(" 驳回")
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))
    async with db.session() as session:
        assert (await session.scalars(select(SalesOrder.status))).all() == [SalesOrderStatus.CANCELLED]


async def test_stock_taken_while_a_request_waits_is_named_when_approving(console: Console, db: Database) -> None:
    await limit_credit(db)
    async with db.session() as session:
        await save_customer(session, None, name="好又多")
    _, number = await request(console)
    approval = card(await console.replies("zhang"))
    other = card(await console.say("wang", "下单 好又多 雪碧 4箱"))  # 48 of the 60 bottles
    assert "已下单" in said(await console.press("wang", other, "确认"))

    refused = said(await console.press("zhang", approval, "批准特批"))
    assert refused == "没有特批，现在库存不够：雪碧 500ml 可用 1箱，缺 2箱。可以补货后再批准，或点“驳回”。"
    assert f"已驳回 {number}" in said(await console.press("zhang", approval, "驳回"))  # still waiting until then


async def test_a_managers_own_order_over_the_limit_is_confirmed_with_their_override(
    console: Console, db: Database
) -> None:
    await limit_credit(db)
    draft = card(await console.say("zhang", "下单 华联 雪碧 3箱"))
    refused = await console.press("zhang", draft, "确认")
    assert said(refused) == f"没有下单：{OVER}。您可以点“特批确认”直接下单，或点“修改”调整数量。"
    offered = card(refused)
    assert [b["label"] for b in offered["buttons"]] == ["特批确认", "修改", "取消"]

    done = await console.press("zhang", offered, "特批确认")
    number = so_number(said(done))
    assert said(done) == f"已下单 {number}（特批），合计 ¥144.00，库存已预留。"
    assert card(done)["status"].startswith(f"已特批确认 {number} · 张经理 · ")
    assert said(await console.press("zhang", offered, "特批确认")) == f"这张订单已确认为 {number}。"
    assert await console.inbox("zhang2") == []  # nobody else was asked
    async with db.session() as session:
        order = await session.scalar(select(SalesOrder))
        assert order is not None and order.credit_override_by == console.world.manager.id


async def test_a_request_waiting_for_a_decision_is_found_under_pending_and_decided_there(
    console: Console, db: Database
) -> None:
    """A manager who lost the direct message finds the 特批 under 待审批, after the purchase orders; deciding
    there updates every copy of its card."""
    await limit_credit(db)
    _, number = await request(console)
    sent = card(await console.replies("zhang"))
    purchase = re.search(r"PO-\d{8}-\d{4}", said(await console.say("chen", "采购 雪碧 2箱 供应商 太古")))
    assert purchase is not None
    await console.replies("zhang")
    await console.replies("zhang2")

    listed = await console.say("zhang", "待审批")
    assert said(listed) == "有 1 张采购单等您审批，1 张销售单等您特批："
    cards = [r for r in listed if r["type"] == "card"]
    assert [c["title"] for c in cards] == [f"采购审批 · {purchase.group(0)}", f"信用特批 · {number}"]
    again = cards[1]
    assert again["card_id"] == sent["card_id"] and again["note"] == OVER and again["tables"] == sent["tables"]
    assert [b["label"] for b in again["buttons"]] == ["批准特批", "驳回"]
    assert said(await console.say("wang", "待审批")) == "没有等您审批的单据。"  # the salesperson who asked
    assert said(await console.say("zhao", "待审批")) == "没有等您审批的单据。"  # the owner decides only without managers
    in_group = texts(await console.in_group("zhang2", "@psibot 待审批"))
    assert in_group == "有 1 张采购单等您审批，1 张销售单等您特批，含金额，已私信发给您。"
    assert [c["title"] for c in await console.replies("zhang2") if c["type"] == "card"] == [c["title"] for c in cards]

    approved = await console.press("zhang", again, "批准特批")
    assert said(approved) == f"已特批 {number}，已下单并预留库存，已通知小王。"
    copies = [r for r in approved if r["type"] == "card"]
    assert len(copies) == 2 and all(c["status"].startswith("已特批 · 张经理 · ") for c in copies)  # sent and listed
    assert all(c["status"].startswith("已特批 · 张经理 · ") for c in await console.replies("zhang2"))
    assert "已由 张经理 特批" in said(await console.replies("wang"))
    assert said(await console.say("zhang", "待审批")) == "有 1 张采购单等您审批："


async def test_pending_lists_only_credit_requests_when_no_purchase_waits(console: Console, db: Database) -> None:
    await limit_credit(db)
    _, number = await request(console)
    await console.replies("zhang")
    listed = await console.say("zhang", "待审批")
    assert said(listed) == "有 1 张销售单等您特批："
    rejected = await console.press("zhang", card(listed), "驳回")
    assert said(rejected) == f"已驳回 {number}，已通知小王。"
    assert said(await console.say("zhang", "待审批")) == "没有等您审批的单据。"


async def test_typed_confirm_over_the_credit_limit_offers_the_credit_request_as_the_button_does(
    console: Console, db: Database
) -> None:
    """确认 typed instead of pressed (tests/scenario/test_order_typed.py) is refused and offered alike."""
    await limit_credit(db)
    draft = card(await console.say("wang", "下单 华联 雪碧 3箱"))
    replies = await console.say("wang", "确认")
    assert said(replies) == f"没有下单：{OVER}。可以点“申请特批”请经理批准，或点“修改”调整数量。"
    offered = next(r for r in replies if r.get("card_id") == draft["card_id"])
    assert [b["label"] for b in offered["buttons"]] == ["申请特批", "修改", "取消"]


async def test_a_draft_short_of_stock_is_told_the_shortage_first_and_offered_no_credit_request(
    console: Console, db: Database
) -> None:
    """A 特批 cannot fix a shortage: 6箱 of the 5箱 in stock, over the limit too, is told what it lacks."""
    await limit_credit(db)
    over = "华联超市 信用额度 ¥100.00，已欠 ¥0.00，未发货订单 ¥0.00，本单 ¥288.00，超出 ¥188.00，需要经理特批"
    for who in ("wang", "zhang"):  # a salesperson gets no 申请特批, a manager no 特批确认
        draft = card(await console.say(who, "下单 华联 雪碧 6箱"))
        refused = await console.press(who, draft, "确认")
        assert said(refused) == f"没有下单，库存不足：雪碧 500ml 可用 5箱，缺 1箱。可以点“修改”调整数量；另外{over}。"
        assert [b["label"] for b in card(refused)["buttons"]] == ["确认", "修改", "取消"]
        typed = said(await console.say(who, "申请特批"))
        assert typed == "这张草稿没有可申请的特批：只在库存够、仅超出信用额度时才能申请，请先发“确认”。"
    assert await console.inbox("zhang2") == []  # nobody was asked
    async with db.session() as session:
        assert (await session.scalars(select(SalesOrder))).all() == []


async def test_stock_taken_after_the_offer_turns_the_credit_request_into_the_shortage(
    console: Console, db: Database
) -> None:
    await limit_credit(db)
    async with db.session() as session:
        await save_customer(session, None, name="好又多")
    draft = card(await console.say("wang", "下单 华联 雪碧 3箱"))
    offered = card(await console.press("wang", draft, "确认"))
    other = card(await console.say("wang", "下单 好又多 雪碧 4箱"))  # 48 of the 60 bottles
    assert "已下单" in said(await console.press("wang", other, "确认"))
    refused = await console.press("wang", offered, "申请特批")
    assert said(refused) == f"没有下单，库存不足：雪碧 500ml 可用 1箱，缺 2箱。可以点“修改”调整数量；另外{OVER}。"
    assert [b["label"] for b in card(refused)["buttons"]] == ["确认", "修改", "取消"]
    assert await console.inbox("zhang") == []
    async with db.session() as session:
        assert len((await session.scalars(select(SalesOrder))).all()) == 1  # 好又多's only


@pytest.mark.parametrize("how", ["pressed", "撤回", "withdraw"])
async def test_the_salesperson_withdraws_a_request_and_no_manager_can_approve_it(
    console: Console, db: Database, how: str
) -> None:
    await limit_credit(db)
    offered = card(await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 3箱")), "确认"))
    mine = card(requested := await console.press("wang", offered, "申请特批"))
    number = so_number(said(requested))
    asked = card(await console.replies("zhang"))
    await console.replies("zhang2")
    assert [b["label"] for b in mine["buttons"]] == ["撤回特批"]
    forged = {"user": "zhao", "card_id": mine["card_id"], "action": "order.credit_withdraw", "value": {}}
    assert (await console.client.post("/console/api/actions", json=forged)).status == 202
    assert said(await console.replies("zhao")) == "只有提出特批申请的销售本人可以撤回"

    withdrawn = await (console.press("wang", mine, "撤回特批") if how == "pressed" else console.say("wang", how))
    assert said(withdrawn) == f"已撤回特批申请 {number}，经理不会再批它。草稿还在：可以点“修改”调整数量，或点“取消”。"
    again = next(r for r in withdrawn if r.get("card_id") == offered["card_id"])
    assert [b["label"] for b in again["buttons"]] == ["确认", "修改", "取消"] and again["status"] == ""
    for manager in ("zhang", "zhang2"):
        updated = card(await console.replies(manager))
        assert updated["card_id"] == asked["card_id"] and updated["buttons"] == []
        assert updated["status"].startswith("已撤回 · 小王 · ")
    late = said(await console.press("zhang", asked, "批准特批"))
    assert late.startswith("已由 小王 于 ") and late.endswith(" 撤回")
    assert said(await console.say("zhang", "待审批")) == "没有等您审批的单据。"
    assert said(await console.say("wang", "撤回")) == "这张草稿没有在等特批，不用撤回。"
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))

    refused = await console.say("wang", "确认")  # a draft again: refused for credit again, and asked again
    assert said(refused) == f"没有下单：{OVER}。可以点“申请特批”请经理批准，或点“修改”调整数量。"
    second = so_number(said(await console.say("wang", "申请特批")))
    assert second != number
    async with db.session() as session:
        statuses = {o.number: o.status for o in (await session.scalars(select(SalesOrder))).all()}
    assert statuses == {number: SalesOrderStatus.CANCELLED, second: SalesOrderStatus.DRAFT}


async def test_a_decided_request_cannot_be_withdrawn(console: Console, db: Database) -> None:
    await limit_credit(db)
    assert said(await console.say("wang", "撤回")) == "没有可撤回的特批申请。"
    offered = card(await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 3箱")), "确认"))
    mine = card(requested := await console.press("wang", offered, "申请特批"))
    number = so_number(said(requested))
    await console.press("zhang", card(await console.replies("zhang")), "批准特批")
    await console.replies("wang")
    late = said(await console.press("wang", mine, "撤回特批"))
    assert late.startswith("已由 张经理 于 ") and late.endswith(" 特批")
    async with db.session() as session:
        order = await session.scalar(select(SalesOrder).where(col(SalesOrder.number) == number))
        assert order is not None and order.status == SalesOrderStatus.CONFIRMED


@pytest.mark.parametrize(("text", "reason"), [("申请特批", ""), ("特批 客户下周回款", "客户下周回款")])
async def test_a_typed_credit_request_acts_on_the_draft_refused_for_credit(
    console: Console, db: Database, text: str, reason: str
) -> None:
    await limit_credit(db)
    draft = card(await console.say("wang", "下单 华联 雪碧 3箱"))
    assert said(await console.say("wang", text)).startswith("这张草稿没有可申请的特批")  # not refused yet
    await console.say("wang", "确认")
    asked = await console.say("wang", text)
    number = so_number(said(asked))
    assert said(asked).startswith(f"已申请特批 {number}，等待 张经理、李经理 特批")
    assert next(r for r in asked if r.get("card_id") == draft["card_id"])["status"].startswith(f"已申请特批 {number}")
    note = OVER + (f"\n申请理由：{reason}" if reason else "")
    assert card(await console.replies("zhang"))["note"] == note
    assert [c["note"] for c in await console.say("zhang", "待审批") if c["type"] == "card"] == [note]
    assert said(await console.say("wang", text)) == f"这张单已申请特批（{number}），结果会通知您。"


async def test_a_manager_types_the_credit_override_of_their_own_draft(console: Console, db: Database) -> None:
    await limit_credit(db)
    await console.say("zhang", "下单 华联 雪碧 3箱")
    await console.say("zhang", "确认")
    done = said(await console.say("zhang", "特批确认"))
    assert done == f"已下单 {so_number(done)}（特批），合计 ¥144.00，库存已预留。"
    assert await console.inbox("zhang2") == []


class _DayLater:
    """The key-value store's clock a day and an hour on (bot.kv.MemoryStore expires keys by it)."""

    @staticmethod
    def monotonic() -> float:
        return time.monotonic() + 25 * 3600


async def test_a_request_still_waiting_the_next_day_can_be_withdrawn(
    console: Console, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Managers may take days; the request's 撤回特批 stays good while it waits (it once expired with the
    card's one-day memory, answering 已过期 while the order still waited for a 特批)."""
    await limit_credit(db)
    offered = card(await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 3箱")), "确认"))
    mine = card(requested := await console.press("wang", offered, "申请特批"))
    number = so_number(said(requested))
    await console.replies("zhang")
    monkeypatch.setattr(bot.kv, "time", _DayLater)
    withdrawn = await console.press("wang", mine, "撤回特批")
    assert said(withdrawn) == f"已撤回特批申请 {number}，经理不会再批它。草稿还在：可以点“修改”调整数量，或点“取消”。"
    assert card(await console.replies("zhang"))["status"].startswith("已撤回 · 小王 · ")
    async with db.session() as session:
        order = await session.scalar(select(SalesOrder).where(col(SalesOrder.number) == number))
        assert order is not None and order.status == SalesOrderStatus.CANCELLED
