"""Purchase requests, approval cards to every approver, decisions told to the requester, receiving."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlmodel import select

from core.db import Database
from core.documents import PurchaseOrder, PurchaseOrderStatus
from core.models import Product, Supplier
from core.quantity import MAX_LINE_QUANTITY, format_quantity
from tests.factories import make_product
from tests.scenario.conftest import Console, card, texts


def po_number(text: str) -> str:
    found = re.search(r"PO-\d{8}-\d{4}", text)
    assert found, text
    return found.group(0)


async def test_small_purchase_goes_to_every_manager_and_the_first_decision_wins(console: Console) -> None:
    submitted = texts(await console.say("chen", "采购 雪碧 10箱 供应商 太古"))
    number = po_number(submitted)
    assert "等待经理 张经理、李经理 审批" in submitted

    first, second = card(await console.replies("zhang")), card(await console.replies("zhang2"))
    assert first["card_id"] == second["card_id"] and first["title"] == f"采购审批 · {number}"
    assert ("金额", "¥300.00") in [tuple(f) for f in first["fields"]]

    assert "没有权限" in texts(await console.press("wang", first, "批准"))  # a salesperson's press does nothing

    decided = await console.press("zhang", first, "批准")
    assert "已批准" in texts(decided)
    status = card(decided)["status"]
    assert status.startswith("已批准 · 张经理 · ")
    other = await console.replies("zhang2")
    assert card(other)["status"] == status and card(other)["buttons"] == []  # replaced for everyone

    late = texts(await console.press("zhang2", second, "批准"))
    assert "已由 张经理 于" in late and "批准" in late

    told = texts(await console.replies("chen"))
    assert f"采购单 {number} 第 1 步已由 张经理 批准" in told and "采购单已批准" in told

    received = texts(await console.say("li", f"入库 {number}"))
    assert f"已入库 {number}" in received
    assert "入库" in texts(await console.replies("chen"))


async def test_a_purchase_in_a_group_shows_its_amount_only_by_direct_message(console: Console) -> None:
    submitted = texts(await console.in_group("chen", "@psibot 采购 雪碧 10箱 供应商 太古"))
    assert f"已提交采购单 {po_number(submitted)}（太古可口可乐），等待经理" in submitted and "¥" not in submitted
    await console.replies("zhang")
    told = texts(await console.in_group("zhang", "@psibot 待审批"))
    assert told == "有 1 张采购单等您审批，含金额，已私信发给您。"
    direct = await console.replies("zhang")
    assert ("金额", "¥300.00") in [tuple(f) for f in card(direct)["fields"]]


async def test_large_purchase_needs_the_owner_after_the_manager(console: Console) -> None:
    number = po_number(texts(await console.say("chen", "采购 可乐330 200箱 供应商 太古")))
    manager_card = card(await console.replies("zhang"))
    await console.replies("zhang2")
    await console.press("zhang", manager_card, "批准")
    owner_card = card(await console.replies("zhao"))
    assert "第 2/2 步 · 老板" in texts([owner_card])
    assert "等待老板 赵老板 审批" in texts(await console.replies("chen"))
    await console.press("zhao", owner_card, "批准")
    assert f"采购单 {number} 第 2 步已由 赵老板 批准。采购单已批准" in texts(await console.replies("chen"))


async def test_reject_asks_for_a_reason_and_tells_the_requester(console: Console) -> None:
    number = po_number(texts(await console.say("chen", "purchase xb 5 cases from 太古")))
    approval = card(await console.replies("zhang"))
    assert "驳回理由" in texts(await console.press("zhang", approval, "驳回"))
    rejected = await console.say("zhang", "价格太高，换一家")
    assert card(rejected)["status"].endswith("理由：价格太高，换一家")
    assert f"采购单 {number} 第 1 步已由 张经理 驳回，理由：价格太高，换一家" in texts(await console.replies("chen"))


@pytest.mark.parametrize(
    ("who", "label", "form"),
    [("zhang", "驳回", {"reason": "数量不对"}), ("zhang", "批准", {}), ("zhang2", "批准", {})],
    ids=["rejected-with-the-form", "approved-instead", "decided-by-the-other-manager"],
)
async def test_a_reject_prompt_ends_when_the_card_is_decided(
    console: Console, who: str, label: str, form: dict[str, str]
) -> None:
    po_number(texts(await console.say("chen", "采购 雪碧 10箱 供应商 太古")))
    approval = card(await console.replies("zhang"))
    assert "驳回理由" in texts(await console.press("zhang", approval, "驳回"))
    other_copy = card(await console.replies("zhang2"))
    await console.press(who, approval if who == "zhang" else other_copy, label, form=form)
    await console.replies("zhang")

    today = texts(await console.say("zhang", "今日销售"))
    assert "今日销售 · " in today and "已由" not in today  # answered as itself, not as a late reason


async def test_a_reason_that_reads_as_a_command_is_asked_about_never_taken_unannounced(console: Console) -> None:
    number = po_number(texts(await console.say("chen", "采购 雪碧 10箱 供应商 太古")))
    approval = card(await console.replies("zhang"))
    await console.press("zhang", approval, "驳回")

    # A command typed during the prompt: asked about; sent again, it runs, and nothing is rejected.
    asked = texts(await console.say("zhang", "库存 雪碧"))
    assert asked == "“库存 雪碧”是驳回理由吗？回复“是”按此驳回；若是要执行这条命令，请再发一次。"
    stock = texts(await console.say("zhang", "库存 雪碧"))
    assert "库存 · 雪碧" in stock and "驳回" not in stock
    assert "有 1 张采购单等您审批" in texts(await console.say("zhang", "待审批"))  # still waiting, not rejected

    # A reason that happens to read as a command (a stock query): 是 takes it as the reason.
    await console.press("zhang", approval, "驳回")
    assert "是驳回理由吗" in texts(await console.say("zhang", "库存还够"))
    rejected = await console.say("zhang", "是")
    assert card(rejected)["status"].endswith("理由：库存还够")
    told = texts(await console.replies("chen"))
    assert f"采购单 {number} 第 1 步已由 张经理 驳回，理由：库存还够" in told


async def test_a_reason_asked_about_is_confirmed_in_traditional_chinese_too(console: Console) -> None:
    await console.say("chen", "采购 雪碧 10箱 供应商 太古")
    approval = card(await console.replies("zhang"))
    await console.press("zhang", approval, "驳回")
    assert "是驳回理由吗" in texts(await console.say("zhang", "库存还够"))
    assert card(await console.say("zhang", "確認"))["status"].endswith("理由：库存还够")


async def test_free_text_during_a_reject_prompt_is_the_reason(console: Console) -> None:
    number = po_number(texts(await console.say("chen", "采购 雪碧 10箱 供应商 太古")))
    approval = card(await console.replies("zhang"))
    await console.press("zhang", approval, "驳回")
    rejected = await console.say("zhang", "雪碧还够卖一周")
    assert card(rejected)["status"].endswith("理由：雪碧还够卖一周")
    assert f"采购单 {number} 第 1 步已由 张经理 驳回，理由：雪碧还够卖一周" in texts(await console.replies("chen"))


async def test_an_ambiguous_product_is_picked_from_a_card_and_the_purchase_goes_on(
    console: Console, db: Database
) -> None:
    """`雪碧` is 雪碧 330ml or 雪碧 500ml, both sold by the case: asked as an order asks, one line at a time."""
    async with db.session() as session:
        await make_product(session, "P004", "雪碧 330ml", base_unit="罐", case=24, barcode=None, sale_price="3.00")
    assert "没有找到供应商“沃尔玛”" in texts(await console.say("chen", "采购 雪碧 50箱 供应商 沃尔玛"))  # before any pick

    first = card(await console.say("chen", "采购 雪碧 50箱，可口可乐 2箱 供应商 太古"))
    assert first["title"] == "第1行“雪碧”是哪一个？"
    assert {b["label"] for b in first["buttons"]} == {"雪碧 330ml", "雪碧 500ml"}
    async with db.session() as session:
        assert (await session.scalars(select(PurchaseOrder))).all() == []  # nothing is made before the picks
    assert texts(await console.press("zhang", first, "雪碧 330ml")) == "这张卡片是给小陈选商品的，只有小陈本人可以选。"

    after = await console.press("chen", first, "雪碧 330ml")
    picked = next(r for r in after if r["card_id"] == first["card_id"])
    assert picked["title"] == "第1行：雪碧 330ml" and picked["status"].startswith("已选 · 小陈") and picked["buttons"] == []
    second = next(r for r in after if r["type"] == "card" and r["card_id"] != first["card_id"])
    assert second["title"] == "第2行“可口可乐”是哪一个？"
    assert "过期" in texts(await console.press("chen", first, "雪碧 500ml"))  # a pick card serves once

    submitted = texts(await console.press("chen", second, "可口可乐 330ml"))
    number = po_number(submitted)
    assert f"已提交采购单 {number}（太古可口可乐，¥2,620.80），等待经理 张经理、李经理 审批" in submitted  # 1200 + 48 cans at ¥2.10
    approval = card(await console.replies("zhang"))
    assert [row[:2] for row in approval["tables"][0]["rows"]] == [["雪碧 330ml", "50箱"], ["可口可乐 330ml", "2箱"]]


async def test_a_purchase_reads_a_number_inside_a_name_as_an_order_does(console: Console, db: Database) -> None:
    """`采购 iPhone 15 Pro 2台` was 15 of iphone and 2台 of pro."""
    async with db.session() as session:
        for sku, name in (("M001", "iPhone 15 Pro"), ("M002", "iPhone 15")):
            await make_product(session, sku, name, base_unit="台", case=None, barcode=None, purchase_price="6000.00")
    submitted = texts(await console.say("chen", "采购 iPhone 15 Pro 2台 供应商 太古"))
    assert "已提交采购单 PO-" in submitted
    approval = card(await console.replies("zhang"))
    assert [row[:2] for row in approval["tables"][0]["rows"]] == [["iPhone 15 Pro", "2台"]]


async def test_the_approval_card_shows_the_stock_each_line_is_judged_by(console: Console) -> None:
    """在库/可用 in the order's warehouse, the safety stock, and what other open orders still bring (在途)."""
    draft = card(await console.say("wang", "下单 华联 可乐330 1箱"))
    assert "已下单" in texts(await console.press("wang", draft, "确认"))  # 24 of 主仓's 100 cans reserved
    first = po_number(texts(await console.say("chen", "采购 可乐330 2箱 供应商 太古")))
    await console.replies("zhang")
    second = po_number(texts(await console.say("chen", "采购 可乐330 10箱，雪碧 2箱 供应商 太古")))
    table = card(await console.replies("zhang"))["tables"][0]
    assert table["columns"] == ["商品", "数量", "单价", "金额", "在库/可用", "安全/在途"]
    assert table["rows"] == [
        ["可口可乐 330ml", "10箱", "¥50.40/箱", "¥504.00", "4箱4罐/3箱4罐", "1箱/2箱"],  # 门店仓's 20 cans not counted
        ["雪碧 500ml", "2箱", "¥30.00/箱", "¥60.00", "5箱/5箱", "-/-"],  # no safety stock set, nothing on the way
    ]

    listed = {c["title"]: c for c in await console.say("zhang", "待审批") if c["type"] == "card"}
    assert listed[f"采购审批 · {first}"]["tables"][0]["rows"][0][4:] == ["4箱4罐/3箱4罐", "1箱/10箱"]
    await console.press("zhang", listed[f"采购审批 · {first}"], "驳回", form={"reason": "重复了"})
    relisted = card(await console.say("zhang", "待审批"))
    assert relisted["title"] == f"采购审批 · {second}"
    assert relisted["tables"][0]["rows"][0][4:] == ["4箱4罐/3箱4罐", "1箱/-"]  # a rejected order brings nothing


async def test_pending_lists_what_waits_for_me(console: Console) -> None:
    assert "没有等您审批" in texts(await console.say("zhang", "待审批"))
    number = po_number(texts(await console.say("chen", "采购 雪碧 2箱 供应商 太古")))
    await console.replies("zhang")
    listed = await console.say("zhang", "待审批")
    assert "有 1 张采购单等您审批" in texts(listed) and card(listed)["title"] == f"采购审批 · {number}"
    assert "没有权限" in texts(await console.say("wang", "采购 雪碧 2箱 供应商 太古"))


async def test_the_shortage_card_suggests_whole_cases_and_makes_one_draft(console: Console, db: Database) -> None:
    async with db.session() as session:
        sprite = await session.scalar(select(Product).where(Product.sku == "P002"))
        supplier = await session.scalar(select(Supplier).where(Supplier.name == "太古可口可乐"))
        assert sprite is not None and supplier is not None
        sprite.safety_stock, sprite.max_stock, sprite.preferred_supplier_id = Decimal(100), Decimal(150), supplier.id
    # 150 − 60 available = 90 bottles short: 8 cases of 12
    shortage = card(await console.say("chen", "缺货"))
    assert "雪碧 500ml | 5箱 | 8箱4瓶 | 3箱4瓶 | 8箱 (96瓶)" in texts([shortage])
    assert [b["label"] for b in shortage["buttons"]] == ["生成采购单"]
    sales_view = card(await console.say("wang", "缺货"))
    assert sales_view["buttons"] == [] and sales_view["tables"][0]["rows"] == [["雪碧 500ml", "5箱", "8箱4瓶", "3箱4瓶"]]
    assert "没有权限" in texts(await console.press("wang", shortage, "生成采购单"))

    made = await console.press("chen", shortage, "生成采购单")
    draft = card(made)
    assert "雪碧 500ml | 8箱 (96瓶) | ¥30.00/箱 | ¥240.00" in texts([draft])
    await console.press("chen", shortage, "生成采购单")
    async with db.session() as session:
        orders = (await session.scalars(select(PurchaseOrder))).all()
        assert [(o.status, o.total) for o in orders] == [(PurchaseOrderStatus.DRAFT, Decimal("240.00"))]
    assert "已在途" in texts(await console.say("chen", "缺货"))  # the draft counts as on order

    cancelled = texts(await console.press("chen", draft, "取消"))
    assert f"已取消采购单 {orders[0].number}" in cancelled
    assert "8箱 (96瓶)" in texts(await console.say("chen", "缺货"))  # suggested again
    remade = card(await console.press("chen", shortage, "生成采购单"))  # the cancelled draft no longer counts
    assert remade["title"].startswith("采购单草稿 · PO-") and remade["card_id"] != draft["card_id"]
    async with db.session() as session:
        statuses = sorted(o.status for o in (await session.scalars(select(PurchaseOrder))).all())
        assert statuses == [PurchaseOrderStatus.CANCELLED, PurchaseOrderStatus.DRAFT]


async def test_a_purchase_of_a_quantity_that_cannot_be_taken_is_refused_and_nothing_is_made(
    console: Console, db: Database
) -> None:
    """`-3箱` once submitted a PO for 3箱, and a 20-digit quantity ended in an OverflowError and an apology."""
    for text, said in [
        ("采购 可乐330 -3箱 供应商 太古", "第1行：数量不能为负数"),
        ("采购 可乐330 0箱 供应商 太古", "第1行：数量不能为 0"),
        ("采购 可乐330 99999999999999999999箱 供应商 太古", f"第1行：数量太大：最多 {format_quantity(MAX_LINE_QUANTITY)}罐"),
        ("采购 可乐330 0.5罐 供应商 太古", "第1行：可口可乐 330ml 只能是整罐，不能是 0.5罐"),
    ]:
        refused = texts(await console.say("chen", text))
        assert "这张采购单还不能提交" in refused and said in refused, text
    async with db.session() as session:
        assert (await session.scalars(select(PurchaseOrder))).all() == []

    at_most = texts(await console.say("chen", f"采购 可乐330 {format_quantity(MAX_LINE_QUANTITY)} 供应商 太古"))
    async with db.session() as session:
        order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == po_number(at_most)))
        assert order is not None and order.total == Decimal("2.10") * MAX_LINE_QUANTITY  # ¥2.10 a can, stored exactly


async def _short_of_sprite(db: Database) -> None:
    """雪碧 below its safety stock, bought from 太古: `缺货` offers 生成采购单 for 8箱."""
    async with db.session() as session:
        sprite = await session.scalar(select(Product).where(Product.sku == "P002"))
        supplier = await session.scalar(select(Supplier).where(Supplier.name == "太古可口可乐"))
        assert sprite is not None and supplier is not None
        sprite.safety_stock, sprite.max_stock, sprite.preferred_supplier_id = Decimal(100), Decimal(150), supplier.id


@pytest.mark.parametrize("word", ["提交审批", "确认", "submit"])
async def test_typed_words_submit_or_cancel_the_latest_purchase_draft_as_its_buttons_do(
    console: Console, db: Database, word: str
) -> None:
    await _short_of_sprite(db)
    draft = card(await console.press("chen", card(await console.say("chen", "缺货")), "生成采购单"))
    assert texts(await console.say("chen", "修改")) == "您最近的采购单草稿不能修改，可以发“提交审批”或“取消”。"
    submitted = await console.say("chen", word)
    number = po_number(texts(submitted))
    assert f"已提交采购单 {number}（¥240.00），等待经理 张经理、李经理 审批" in texts(submitted)
    updated = next(r for r in submitted if r["type"] == "card")
    assert updated["card_id"] == draft["card_id"] and updated["status"].startswith("已提交审批 · 小陈 · ")
    assert card(await console.replies("zhang"))["title"] == f"采购审批 · {number}"
    assert texts(await console.say("chen", word)) == f"采购单 {number} 待审批，不能提交审批"  # as a second press
    refused = texts(await console.say("chen", "取消"))  # the draft card cancels no submitted order
    assert refused == f"采购单 {number} 已不是草稿（待审批），不能在草稿上取消"
    assert refused == texts(await console.press("chen", draft, "取消"))
    async with db.session() as session:
        order = await session.scalar(select(PurchaseOrder))
        assert order is not None and order.status == PurchaseOrderStatus.PENDING_APPROVAL


async def test_a_purchase_draft_made_in_a_group_is_acted_on_in_the_direct_chat_it_went_to(
    console: Console, db: Database
) -> None:
    await _short_of_sprite(db)
    shortage = card(await console.in_group("chen", "@psibot 缺货"))
    draft = card(await console.press("chen", shortage, "生成采购单", chat="g1"))  # by direct message
    assert "已私信发给 小陈" in texts(await console.group_inbox())
    assert draft["title"].startswith("采购单草稿 · PO-")
    cancelled = await console.say("chen", "取消")
    assert texts([r for r in cancelled if r["type"] == "text"]).startswith("已取消采购单 PO-")
    assert next(r for r in cancelled if r["type"] == "card")["status"].startswith("已取消 · 小陈 · ")
    async with db.session() as session:
        assert (await session.scalars(select(PurchaseOrder.status))).all() == [PurchaseOrderStatus.CANCELLED]


async def test_the_purchase_draft_shows_the_stock_its_approvers_judge_it_by(console: Console, db: Database) -> None:
    """The requester checks the draft against what the approver will see: 在库/可用 in its warehouse, the
    safety stock and what other open orders bring, beside the quantities as bought."""
    await _short_of_sprite(db)
    other = po_number(texts(await console.say("chen", "采购 雪碧 1箱 供应商 太古")))
    await console.replies("zhang")  # its approval card
    draft = card(await console.press("chen", card(await console.say("chen", "缺货")), "生成采购单"))
    columns = ["商品", "数量", "单价", "金额", "在库/可用", "安全/在途"]
    assert draft["tables"][0] == {
        "columns": columns, "rows": [["雪碧 500ml", "7箱 (84瓶)", "¥30.00/箱", "¥210.00", "5箱/5箱", "8箱4瓶/1箱"]]
    }  # 150 − 60 − 12 on the way = 78 bottles short: 7 cases
    submitted = await console.press("chen", draft, "提交审批")
    assert po_number(texts(submitted)) != other
    approval = card(await console.replies("zhang"))
    assert approval["tables"][0]["columns"] == columns
    assert approval["tables"][0]["rows"][0][4:] == draft["tables"][0]["rows"][0][4:]
