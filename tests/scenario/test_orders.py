"""Placing, changing, confirming and shipping sales orders from chat."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from core.db import Database
from core.ledger import opening_stock
from core.quantity import MAX_LINE_QUANTITY, format_quantity
from tests.factories import make_product
from tests.scenario.conftest import Console, add_cola_lot, card, days_from_today, texts


async def test_order_draft_confirm_reserves_stock_and_the_card_shows_the_decision(console: Console) -> None:
    replies = await console.say("wang", "下单 华联 可乐330 2箱，雪碧 5瓶")
    draft = card(replies)
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert ("合计", "¥188.00") in [tuple(f) for f in draft["fields"]]  # 48 × 3.50 + 5 × 4.00
    assert draft["tables"][0]["rows"][0] == ["可口可乐 330ml", "2箱", "¥84.00/箱", "¥168.00", "4箱4罐"]
    assert [b["label"] for b in draft["buttons"]] == ["确认", "修改", "取消"]

    confirmed = await console.press("wang", draft, "确认")
    assert "已下单 SO-" in texts(confirmed)
    updated = next(r for r in confirmed if r["type"] == "card")
    assert updated["card_id"] == draft["card_id"] and updated["buttons"] == []
    assert updated["status"].startswith("已确认 SO-") and " · 小王 · " in updated["status"]

    after = texts(await console.say("li", "库存 可口可乐330"))
    assert "已预留: 2箱" in after

    number = texts(confirmed).split("已下单 ")[1].split("，")[0]
    again = await console.press("wang", draft, "确认")  # a retried click, or the card open in a second tab
    assert texts(again) == f"这张订单已确认为 {number}。"
    assert "已预留: 2箱" in texts(await console.say("li", "库存 可口可乐330"))  # nothing more reserved


async def test_only_the_person_who_made_a_draft_can_confirm_change_or_cancel_it(console: Console) -> None:
    """A draft said in a group is seen by everyone there; pressing its buttons is its maker's."""

    async def group_replies(after: int) -> tuple[list[dict[str, Any]], int]:
        await asyncio.sleep(0.3)
        body = await (await console.client.get(f"/console/api/messages?chat=g7&after={after}&wait=5")).json()
        out = [record for record in body["messages"] if record["direction"] == "out"]
        return [record["reply"] for record in out], max([after, *(r["updated"] for r in body["messages"])])

    async def press(user: str, draft: dict[str, Any], label: str) -> None:
        button = next(b for b in draft["buttons"] if b["label"] == label)
        body = {"user": user, "chat": "g7", "card_id": draft["card_id"], "action": button["action"], "value": button["value"]}
        assert (await console.client.post("/console/api/actions", json=body)).status == 202

    said = {"user": "wang", "chat": "g7", "text": "@psibot 下单 华联 雪碧 2瓶"}
    assert (await console.client.post("/console/api/messages", json=said)).status == 202
    replies, seen = await group_replies(0)
    draft = card(replies)
    for label, doing in (("确认", "确认"), ("修改", "修改"), ("取消", "取消")):
        await press("zhao", draft, label)
        replies, seen = await group_replies(seen)
        assert texts(replies) == f"这是小王开的草稿，只有小王本人可以{doing}。"
    await press("wang", draft, "确认")
    replies, seen = await group_replies(seen)
    assert "已下单 SO-" in texts(replies)
    assert " · 小王 · " in card(replies)["status"]


async def test_quantities_as_people_type_them(console: Console) -> None:
    replies = await console.say("wang", "下单 华联超市：可口可乐330ml ３箱零１２罐，xb*十二")
    rows = card(replies)["tables"][0]["rows"]
    assert [row[1] for row in rows] == ["3箱12罐", "1箱"]


async def test_chinese_numerals_said_short_are_read_as_said(console: Console) -> None:
    """一百二 is 120, not 102 (4箱6罐 on the card)."""
    rows = card(await console.say("wang", "下单 华联 可口可乐330ml 一百二罐"))["tables"][0]["rows"]
    assert [row[:2] for row in rows] == [["可口可乐 330ml", "5箱"]]


async def test_a_shortage_is_named_per_line_and_confirming_is_refused(console: Console) -> None:
    replies = await console.say("wang", "下单 华联 雪碧 10箱")
    draft = card(replies)
    assert "雪碧 500ml 可用 5箱，缺 5箱" in draft["note"]
    refused = texts(await console.press("wang", draft, "确认"))
    assert "没有下单" in refused and "缺 5箱" in refused


async def test_expired_stock_is_short_on_the_draft_and_confirming_says_what_is_available(
    console: Console, db: Database
) -> None:
    await add_cola_lot(db, console.world, 48, "L0", days_from_today(-1))  # 2箱 in 主仓 that cannot be sold
    draft = card(await console.say("wang", "下单 华联 可乐330 5箱"))
    assert draft["tables"][0]["rows"][0][-1] == "4箱4罐"  # 主仓's 100 sellable cans, not 148
    assert draft["note"] == "库存不足：可口可乐 330ml 可用 4箱4罐，缺 20罐"
    refused = texts(await console.press("wang", draft, "确认"))
    assert refused == "没有下单，库存不足：可口可乐 330ml 可用 4箱4罐，缺 20罐。可以点“修改”调整数量。"

    fits = card(await console.say("wang", "下单 华联 可乐330 4箱"))
    assert fits["note"] == "确认后预留库存"
    assert "已下单 SO-" in texts(await console.press("wang", fits, "确认"))


async def test_stock_taken_between_draft_and_confirm_is_named_when_confirming(console: Console) -> None:
    first = card(await console.say("wang", "下单 华联 可乐330 4箱"))  # 96 of 主仓's 100 cans
    second = card(await console.say("wang", "下单 华联 可乐330 1箱"))
    assert "已下单 SO-" in texts(await console.press("wang", second, "确认"))
    refused = texts(await console.press("wang", first, "确认"))
    assert refused.startswith("没有下单，库存不足：可口可乐 330ml 可用 3箱4罐，缺 20罐。")


async def test_problems_are_named_by_line(console: Console) -> None:
    body = texts(await console.say("wang", "下单 华联 可口可乐 2箱，雪碧"))
    assert "第1行“可口可乐”对应多个商品" in body
    assert "第2行“雪碧”缺少数量" in body
    assert "没有找到客户" in texts(await console.say("wang", "下单 沃尔玛 雪碧 2瓶"))


async def test_edit_replaces_the_lines_and_cancel_closes_the_card(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    assert "请发新的商品和数量" in texts(await console.press("wang", draft, "修改"))
    replies = await console.say("wang", "雪碧 3瓶")
    old = next(r for r in replies if r["type"] == "card" and r["card_id"] == draft["card_id"])
    assert old["buttons"] == [] and old["status"].startswith("已修改，见新草稿 · 小王 · ")  # no live buttons left
    second = next(r for r in replies if r["type"] == "card" and r["card_id"] != draft["card_id"])
    assert second["tables"][0]["rows"][0][1] == "3瓶" and second["buttons"]
    assert texts(await console.press("wang", draft, "确认")) == "这张草稿已修改，请在新草稿上操作。"
    cancelled = await console.press("wang", second, "取消")
    assert card(cancelled)["status"].startswith("已取消 · 小王") and card(cancelled)["buttons"] == []
    assert texts(await console.press("wang", second, "确认")) == "这张草稿已取消。"


async def test_an_edit_whose_product_is_picked_from_a_card_closes_the_old_draft_once_picked(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    await console.press("wang", draft, "修改")
    choice = card(await console.say("wang", "可口可乐 2箱"))
    assert choice["title"] == "第1行“可口可乐”是哪一个？"
    after = await console.press("wang", choice, "可口可乐 330ml")
    old = next(r for r in after if r["type"] == "card" and r["card_id"] == draft["card_id"])
    assert old["status"].startswith("已修改，见新草稿 · 小王 · ") and old["buttons"] == []
    assert any(r["type"] == "card" and r["title"] == "销售单草稿 · 华联超市" and r["buttons"] for r in after)


async def test_an_edit_answer_that_cannot_be_read_is_asked_again_and_the_draft_kept(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    await console.press("wang", draft, "修改")
    question = "请发新的商品和数量，例如：可乐 10箱，雪碧 5瓶（客户 华联超市 不变）。发“取消”放弃修改。"
    for answer, wrong in [
        ("雪碧 一些", "第1行没有找到“雪碧 一些”"),
        ("雪碧", "第1行“雪碧”缺少数量（例：雪碧 500ml 10瓶）"),
        ("雪碧 -1瓶", "第1行：数量不能为负数"),
        ("雪碧 2瓶，芬达 3瓶", "第2行没有找到“芬达”"),
    ]:
        replies = await console.say("wang", answer)
        assert texts(replies).startswith(f"没改成：{wrong}"), answer
        assert texts(replies).endswith(question) and [r["type"] for r in replies] == ["text"], answer
    replies = await console.say("wang", "雪碧 3瓶")  # the flow is still on, the first draft still there
    assert card([r for r in replies if r.get("card_id") != draft["card_id"]])["tables"][0]["rows"][0][1] == "3瓶"


async def test_two_lines_of_one_product_are_checked_against_its_stock_together(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 可乐 90罐，可乐 30罐"))  # 主仓 has 100
    assert draft["note"] == "库存不足：可口可乐 330ml 第1、2行合计 5箱，可用 4箱4罐，缺 20罐"
    assert draft["tone"] == "warning"
    refused = texts(await console.press("wang", draft, "确认"))
    assert refused == "没有下单，库存不足：可口可乐 330ml 第1、2行合计 5箱，可用 4箱4罐，缺 20罐。可以点“修改”调整数量。"
    assert "已预留" not in texts(await console.say("li", "库存 可口可乐330"))

    fits = card(await console.say("wang", "下单 华联 可乐 70罐，雪碧 1瓶，可乐 30罐"))
    assert fits["note"] == "确认后预留库存"
    assert "已下单 SO-" in texts(await console.press("wang", fits, "确认"))
    assert "已预留: 4箱4罐" in texts(await console.say("li", "库存 可口可乐330"))


async def test_the_warehouse_is_picked_by_what_it_holds_for_all_lines_of_a_product(
    console: Console, db: Database
) -> None:
    await add_cola_lot(db, console.world, 130, "L3", days_from_today(200), console.world.store)
    draft = card(await console.say("wang", "下单 华联 可乐 90罐，可乐 30罐"))  # each fits 主仓's 100, both only 门店仓's 150
    assert ("仓库", "门店仓") in [tuple(f) for f in draft["fields"]] and draft["note"] == "确认后预留库存"


async def test_an_order_in_traditional_chinese_finds_customer_and_products(console: Console) -> None:
    draft = card(await console.say("wang", "下單 華聯超市 可口可樂330 2箱，雪碧 5瓶"))
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["可口可乐 330ml", "2箱"], ["雪碧 500ml", "5瓶"]]
    stock = card(await console.say("wang", "库存 雪碧"))
    await console.press("wang", stock, "下单")
    assert card(await console.say("wang", "華聯 兩箱"))["title"] == "销售单草稿 · 华联超市"


@pytest.mark.parametrize(
    "text",
    ["下单 华联 可乐330 2箱/雪碧 5瓶", "下单 华联 可乐330 2箱\n雪碧 5瓶", "下单 华联 可乐330 2箱还有雪碧 5瓶",
     "下单 华联 可乐330 2箱；雪碧 5瓶", "下单 华联 可乐330 2箱、雪碧 5瓶", "下单 华联 可乐330 48\n雪碧 5"],
)
async def test_lines_separated_as_people_separate_them(console: Console, text: str) -> None:
    rows = card(await console.say("wang", text))["tables"][0]["rows"]
    assert [row[0] for row in rows] == ["可口可乐 330ml", "雪碧 500ml"]


@pytest.mark.parametrize(
    "text",
    ["下单 华联 可乐330 2箱和雪碧 5瓶", "下单 华联 可乐330 48 雪碧 5", "下单 华联 可乐330 2箱 还有 雪碧 5瓶",
     "下单 华联 可口可乐330 2箱跟雪碧5瓶", "下单 华联 可乐330 2箱 雪碧 5瓶[强]", "下单 华联 可口可乐330 48 雪碧5"],
)
async def test_lines_without_commas(console: Console, text: str) -> None:
    """Read as one line once: 可乐330 2箱和雪碧, 5瓶."""
    rows = card(await console.say("wang", text))["tables"][0]["rows"]
    assert [row[:2] for row in rows] == [["可口可乐 330ml", "2箱"], ["雪碧 500ml", "5瓶"]]


async def test_digits_right_after_a_name_are_told_from_a_quantity_by_the_catalog(console: Console) -> None:
    """可口可乐 330ml holds 330: `可口可乐330` names it and has no quantity; no name holds 雪碧12, so 12 is one."""
    missing = texts(await console.say("wang", "下单 华联 可口可乐330"))
    assert "第1行“可口可乐330”缺少数量（例：可口可乐 330ml 10罐）" in missing
    draft = card(await console.say("wang", "下单 华联 雪碧12 可口可乐330 2箱"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["雪碧 500ml", "1箱"], ["可口可乐 330ml", "2箱"]]


async def test_glued_digits_are_read_the_same_after_a_pick_card(console: Console, db: Database) -> None:
    """Two names hold 可口可乐330: picked, the line still has no quantity (not 330罐). No name holds 可口可乐24:
    24 is the quantity, of one of the products 可口可乐 fits, and stays so once picked."""
    async with db.session() as session:
        await make_product(session, "P004", "可口可乐 330ml 无糖", barcode=None)
    choice = card(await console.say("wang", "下单 华联 可口可乐330"))
    assert choice["title"] == "第1行“可口可乐330”是哪一个？"
    assert [b["label"] for b in choice["buttons"]][:2] == ["可口可乐 330ml", "可口可乐 330ml 无糖"]
    assert "第1行“可口可乐330”缺少数量（例：可口可乐 330ml 10罐）" in texts(await console.press("wang", choice, "可口可乐 330ml"))

    choice = card(await console.say("wang", "下单 华联 可口可乐24"))
    assert choice["title"] == "第1行“可口可乐”是哪一个？"
    after = await console.press("wang", choice, "可口可乐 330ml")
    draft = next(r for r in after if r["type"] == "card" and r["title"].startswith("销售单草稿"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["可口可乐 330ml", "1箱"]]


async def add_phones(console: Console, db: Database) -> None:
    """Names with a number inside, sold by the 台: iPhone 15 Pro (10 in 主仓), iPhone 15, 小米 14 手机 (12+256G)."""
    async with db.session() as session:
        pro = await make_product(
            session, "M001", "iPhone 15 Pro", base_unit="台", case=None, barcode=None, sale_price="7999.00",
            category="手机",
        )
        await make_product(
            session, "M002", "iPhone 15", base_unit="台", case=None, barcode=None, sale_price="5999.00", category="手机"
        )
        await make_product(
            session, "M003", "小米 14 手机", spec="12+256G", base_unit="台", case=None, barcode=None,
            sale_price="3999.00", category="手机",
        )
        await opening_stock(
            session, console.world.warehouse_user, product_id=pro.id or 0, warehouse_id=console.world.main.id or 0,
            quantity=Decimal(10),
        )


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("下单 华联 iphone 15 pro 2台", [["iPhone 15 Pro", "2台"]]),
        ("下单 华联 iPhone 15 Pro 2台 小米 14 手机 3台", [["iPhone 15 Pro", "2台"], ["小米 14 手机（12+256G）", "3台"]]),
        ("下单 华联 xiaomi 14 shouji 1台 可乐330 2箱", [["小米 14 手机（12+256G）", "1台"], ["可口可乐 330ml", "2箱"]]),
        ("给华联下单 小米 14 手机 1 雪碧 5", [["小米 14 手机（12+256G）", "1台"], ["雪碧 500ml", "5瓶"]]),
        ("下单 华联 可乐330 48 iphone 15 pro 1 雪碧 5", [["可口可乐 330ml", "2箱"], ["iPhone 15 Pro", "1台"], ["雪碧 500ml", "5瓶"]]),
    ],
)
async def test_a_number_inside_a_name_keeps_the_line_whole_when_a_product_holds_it(
    console: Console, db: Database, text: str, rows: list[list[str]]
) -> None:
    """`iphone 15 pro 2台` was read as 15 of `iphone` and 2台 of `pro`; a space after a bare number still ends a
    line where no product's name holds the text across it (可乐330 48 | 雪碧 5)."""
    await add_phones(console, db)
    draft = card(await console.say("wang", text))
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert [row[:2] for row in draft["tables"][0]["rows"]] == rows


async def test_a_number_inside_a_name_is_the_name_only_when_a_product_holds_it(console: Console, db: Database) -> None:
    """No product is 华为 15 pro: its lines are read apart, and the one no product has is named, never guessed;
    iPhone 15 Pro is one."""
    await add_phones(console, db)
    refused = texts(await console.say("wang", "下单 华联 华为 15 pro 2台"))
    assert "这张单还不能开" in refused and "第1行没有找到“华为”" in refused
    draft = card(await console.say("wang", "下单 华联 iphone 15 pro 2台"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["iPhone 15 Pro", "2台"]]


async def test_pieces_of_a_name_no_product_has_are_refused_never_booked_as_two_lines(
    console: Console, db: Database
) -> None:
    """小米 13 手机 1台 with only 小米 14 手机: read apart at 13 it was 13台 of 小米 and 1台 of 手机, both 小米 14 手机, a
    draft of 14 phones of a model nobody asked for. Both pieces find that one product: the text is the one
    name typed, which no product holds, and is refused by name. A name typed twice is two lines."""
    await add_phones(console, db)
    refused = texts(await console.say("wang", "下单 华联 小米 13 手机 1台"))
    assert "这张单还不能开" in refused and "第1行没有找到“小米 13 手机”" in refused and "小米 14 手机" in refused
    draft = card(await console.say("wang", "下单 华联 可口可乐330 10 可口可乐330 5"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["可口可乐 330ml", "10罐"], ["可口可乐 330ml", "5罐"]]


async def test_lines_joined_by_the_catalog_are_kept_so_on_a_pick_card(console: Console, db: Database) -> None:
    """The pick card keeps the lines as read: line 2 is 可口可乐, not `pro 2台`."""
    await add_phones(console, db)
    choice = card(await console.say("wang", "下单 华联 iphone 15 pro 2台 可口可乐 1箱"))
    assert choice["title"] == "第2行“可口可乐”是哪一个？"
    after = await console.press("wang", choice, "可口可乐 330ml")
    draft = next(r for r in after if r["type"] == "card" and r["title"].startswith("销售单草稿"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["iPhone 15 Pro", "2台"], ["可口可乐 330ml", "1箱"]]


async def test_shipping_part_of_an_order_reads_a_number_inside_a_name_alike(console: Console, db: Database) -> None:
    await add_phones(console, db)
    draft = card(await console.say("wang", "下单 华联 iphone 15 pro 3台"))
    number = texts(await console.press("wang", draft, "确认")).split("已下单 ")[1].split("，")[0]
    shipped = texts(await console.say("li", f"发货 {number} iphone 15 pro 1台"))
    assert f"已发货 {number}" in shipped and "还有未发的货" in shipped


async def test_a_connector_that_may_begin_a_name_is_read_as_the_catalog_knows_it(console: Console, db: Database) -> None:
    """`10箱和路雪 2盒` was read as 路雪 (so 加多宝 as 多宝, the turbot's name), and `10箱 和雪碧 5瓶` as 和雪碧."""
    async with db.session() as session:
        await make_product(session, "I001", "和路雪 可爱多", base_unit="盒", case=24, barcode=None, category="冷饮")
        await make_product(session, "D001", "加多宝 凉茶 310ml", case=24, barcode=None)
        await make_product(session, "F002", "多宝鱼", base_unit="条", case=10, barcode=None, category="冻品")
        await make_product(session, "D002", "和其正 凉茶", base_unit="瓶", case=12, barcode=None)

    async def rows(text: str) -> list[list[str]]:
        draft = card(await console.say("wang", text))
        assert draft["title"] == "销售单草稿 · 华联超市", texts([draft])
        return [row[:2] for row in draft["tables"][0]["rows"]]

    assert await rows("下单 华联 可乐330 10箱和路雪 2盒") == [["可口可乐 330ml", "10箱"], ["和路雪 可爱多", "2盒"]]
    assert await rows("下单 华联 可乐330 1箱加多宝 2箱") == [["可口可乐 330ml", "1箱"], ["加多宝 凉茶 310ml", "2箱"]]
    assert await rows("下单 华联 可乐330 1箱 和雪碧 5瓶") == [["可口可乐 330ml", "1箱"], ["雪碧 500ml", "5瓶"]]
    assert await rows("下单 华联 可乐330 1箱，跟雪碧 5瓶") == [["可口可乐 330ml", "1箱"], ["雪碧 500ml", "5瓶"]]
    assert await rows("下单 华联 可乐330 2箱 和其正 3箱") == [["可口可乐 330ml", "2箱"], ["和其正 凉茶", "3箱"]]
    assert await rows("下单 华联 可乐330 2箱和多宝鱼 1箱") == [["可口可乐 330ml", "2箱"], ["多宝鱼", "1箱"]]
    missing = texts(await console.say("wang", "下单 华联 雪碧 1箱和路雪"))
    assert "第2行“和路雪”缺少数量（例：和路雪 可爱多 10盒）" in missing


async def test_chinese_numerals_end_a_name_or_a_line_as_digits_do(console: Console, db: Database) -> None:
    """`雪碧十二 可乐330 两箱` was one line, 两箱 of “雪碧十二 可乐330”; `下单 华联 统一` an order of 1 瓶 of 统一."""
    async with db.session() as session:
        await make_product(session, "T001", "统一 冰红茶 500ml", base_unit="瓶", case=15, barcode=None)
    draft = card(await console.say("wang", "下单 华联 雪碧十二 可乐330 两箱 统一 冰红茶 二十"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [
        ["雪碧 500ml", "1箱"], ["可口可乐 330ml", "2箱"], ["统一 冰红茶 500ml", "1箱5瓶"],
    ]
    missing = texts(await console.say("wang", "下单 华联 统一"))
    assert "第1行“统一”缺少数量（例：统一 冰红茶 500ml 10瓶）" in missing


@pytest.mark.parametrize("text", ["给华联下单 雪碧2箱", "帮华联下单 雪碧 2箱", "华联下单 雪碧 2箱", "我要下单 华联 雪碧 2箱"])
async def test_the_customer_may_come_before_the_order_word(console: Console, text: str) -> None:
    """These once got 没看懂 and the help card."""
    draft = card(await console.say("wang", text))
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["雪碧 500ml", "2箱"]]


async def test_wanting_to_order_without_saying_what_gets_the_order_usage(console: Console) -> None:
    assert texts(await console.say("wang", "我要下单")) == "格式: 下单 华联超市 可乐 10箱，雪碧 5瓶"


async def test_a_thousands_separator_is_read_as_one_number(console: Console) -> None:
    """`1,200瓶` was read as 1 and a line “200瓶”."""
    draft = card(await console.say("wang", "下单 华联 雪碧 1,200瓶，可乐330 2箱"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["雪碧 500ml", "100箱"], ["可口可乐 330ml", "2箱"]]  # 1200瓶 = 100箱 of 12


async def test_an_emoji_after_a_line_is_no_part_of_it(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 可乐330 2箱🙏"))
    assert draft["tables"][0]["rows"][0][:2] == ["可口可乐 330ml", "2箱"]
    assert card(await console.say("wang", "库存 可口可乐330👍"))["title"] == "库存 · 可口可乐 330ml"


async def test_order_from_the_stock_card_button(console: Console) -> None:
    stock = card(await console.say("wang", "库存 雪碧"))
    assert "给哪个客户" in texts(await console.press("wang", stock, "下单"))
    draft = card(await console.say("wang", "华联 两箱"))
    assert draft["tables"][0]["rows"][0][:2] == ["雪碧 500ml", "2箱"]


async def test_warehouse_ships_a_confirmed_order(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 1箱"))
    confirmed = texts(await console.press("wang", draft, "确认"))
    number = confirmed.split("已下单 ")[1].split("，")[0]
    assert "没有权限" in texts(await console.say("li", "下单 华联 雪碧 1箱"))
    shipped = texts(await console.say("li", f"发货 {number}"))
    assert f"已发货 {number}" in shipped and "¥48.00" in shipped


async def test_an_ambiguous_line_is_picked_from_a_card_and_the_order_goes_on(console: Console) -> None:
    choice = card(await console.say("wang", "下单 华联 可口可乐 2箱，雪碧 5瓶"))
    assert choice["title"] == "第1行“可口可乐”是哪一个？"
    assert texts(await console.press("zhang", choice, "可口可乐 330ml")) == "这张卡片是给小王选商品的，只有小王本人可以选。"
    after = await console.press("wang", choice, "可口可乐 330ml")
    picked = next(r for r in after if r["type"] == "card" and r["card_id"] == choice["card_id"])
    assert picked["status"].startswith("已选 · 小王") and picked["buttons"] == []
    draft = next(r for r in after if r["type"] == "card" and r["title"].startswith("销售单草稿"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["可口可乐 330ml", "2箱"], ["雪碧 500ml", "5瓶"]]
    assert "过期" in texts(await console.press("wang", choice, "可口可乐 1.25L"))


async def test_the_unit_written_tells_products_of_one_name_apart(console: Console, db: Database) -> None:
    """雪碧 330ml comes in 罐, 雪碧 500ml in 瓶: `5罐` can only be the can; `1箱` fits both, so ask."""
    async with db.session() as session:
        await make_product(session, "P004", "雪碧 330ml", base_unit="罐", case=24, barcode=None, sale_price="3.00")

    draft = card(await console.say("wang", "下单 华联 雪碧 5罐"))
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert [row[:3] for row in draft["tables"][0]["rows"]] == [["雪碧 330ml", "5罐", "¥3.00/罐"]]

    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶，雪碧 1箱零3罐"))
    assert [row[:2] for row in draft["tables"][0]["rows"]] == [["雪碧 500ml", "2瓶"], ["雪碧 330ml", "1箱3罐"]]

    choice = card(await console.say("wang", "下单 华联 雪碧 1箱"))
    assert choice["title"] == "第1行“雪碧”是哪一个？"
    assert {b["label"] for b in choice["buttons"]} >= {"雪碧 330ml", "雪碧 500ml"}

    assert "没有单位“袋”" in texts(await console.say("wang", "下单 华联 雪碧500 5袋"))  # no product has it: said so
    body = texts(await console.say("wang", "下单 华联 雪碧 5袋"))
    assert "对应多个商品" in body or "是哪一个" in body


async def test_quantities_that_cannot_be_taken_are_refused_by_line_before_any_draft(console: Console) -> None:
    """`-5箱` once made a draft of 5箱, a 20-digit quantity a draft whose 确认 overflowed the database, and 0
    or `1e9` were called missing with the bad text as the example."""
    most = f"最多 {format_quantity(MAX_LINE_QUANTITY)}罐"
    for text, said in [
        ("下单 华联 可乐330 -5箱", "第1行：数量不能为负数"),
        ("下单 华联 雪碧 2瓶，可乐330 -5箱", "第2行：数量不能为负数"),
        ("下单 华联 可乐330 0箱", "第1行：数量不能为 0"),
        ("下单 华联 可乐330 99999999999999999999箱", f"第1行：数量太大：{most}"),
        ("下单 华联 可乐330 1000000000箱", f"第1行：数量太大：{most}"),
        ("下单 华联 可乐330 1e9", "第1行的数量“1e9”没看懂（例：可口可乐 330ml 10罐）"),
        ("下单 华联 可口可乐 330ml", "第1行“可口可乐 330ml”缺少数量（例：可口可乐 330ml 10罐）"),
    ]:
        replies = await console.say("wang", text)
        assert [r["type"] for r in replies] == ["text"], text
        assert said in texts(replies) and "这张单还不能开" in texts(replies)
    assert "第1行：数量不能为负数" in texts(await console.say("wang", "下单 华联 可乐330 −5箱"))  # the minus sign


async def test_half_a_can_is_refused_by_line_and_half_a_case_is_twelve_cans(console: Console) -> None:
    refused = await console.say("wang", "下单 华联 雪碧 2瓶，可乐330 0.5罐")
    assert [r["type"] for r in refused] == ["text"]
    assert "第2行：可口可乐 330ml 只能是整罐，不能是 0.5罐" in texts(refused) and "这张单还不能开" in texts(refused)
    assert "第1行：可口可乐 330ml 只能是整罐，不能是 24.5罐" in texts(await console.say("wang", "下单 华联 可乐330 1箱0.5罐"))
    draft = card(await console.say("wang", "下单 华联 可乐330 0.5箱"))
    assert draft["tables"][0]["rows"][0][:2] == ["可口可乐 330ml", "12罐"]


async def test_a_weight_finer_than_the_books_keep_is_refused_in_its_unit(console: Console, db: Database) -> None:
    """Core's refusals say a quantity with its unit (0.0005 alone once read as a bare number)."""
    async with db.session() as session:
        await make_product(session, "F001", "五花肉", base_unit="公斤", case=None, barcode=None, sale_price="30.00")
    refused = await console.say("wang", "下单 华联 五花肉 0.0005公斤")
    assert texts(refused) == "五花肉 的数量最多 3 位小数: 0.0005公斤"


async def test_a_partial_shipment_of_a_negative_quantity_is_refused(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2箱"))
    number = texts(await console.press("wang", draft, "确认")).split("已下单 ")[1].split("，")[0]
    assert "数量不能为负数" in texts(await console.say("li", f"发货 {number} 雪碧 -1箱"))
    assert "可用: 3箱" in texts(await console.say("li", "库存 雪碧"))  # 5箱, 2 reserved, none shipped


async def test_shipping_more_than_is_left_says_how_much_with_units(console: Console) -> None:
    confirmed = texts(await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 3箱")), "确认"))
    number = confirmed.split("已下单 ")[1].split("，")[0]
    refused = texts(await console.say("li", f"发货 {number} 雪碧 4箱"))
    assert "第 1 行 雪碧 500ml 最多还能发 3箱（36瓶），不能发 4箱（48瓶）" in refused
