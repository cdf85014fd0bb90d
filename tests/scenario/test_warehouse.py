"""Counts, transfers, alerts, today's sales and binding colleagues from chat."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from core.db import Database
from core.documents import Transfer
from core.ledger import opening_stock
from core.quantity import MAX_LINE_QUANTITY, format_quantity
from tests.factories import make_product
from tests.scenario.conftest import L1_EXPIRY, L2_EXPIRY, Console, add_cola_lot, card, days_from_today, texts


async def test_spot_count_books_the_variance(console: Console) -> None:
    done = texts(await console.say("li", "盘点 雪碧 4箱6瓶"))
    assert "账面 5箱，实盘 4箱6瓶，盘亏 6瓶，库存已调整" in done
    assert "可用: 4箱6瓶" in texts(await console.say("li", "库存 雪碧"))


async def test_count_from_the_stock_card_asks_for_the_quantity(console: Console) -> None:
    stock = card(await console.say("li", "库存 雪碧"))
    assert "实盘数量" in texts(await console.press("li", stock, "盘点"))
    assert "账实相符" in texts(await console.say("li", "60"))


async def test_transfer_between_warehouses(console: Console) -> None:
    moved = texts(await console.say("li", "调拨 雪碧 2箱 主仓 到 门店"))
    assert "已调拨 TR-" in moved and "雪碧 500ml 2箱，主仓 → 门店仓" in moved
    assert "门店仓 | - | - | 2箱 | 2箱" in texts(await console.say("li", "库存 雪碧"))
    assert "没有权限" in texts(await console.say("wang", "调拨 雪碧 2箱 主仓 到 门店"))


async def test_a_transfer_without_its_source_comes_from_the_one_warehouse_that_can_spare_it(console: Console) -> None:
    assert "雪碧 500ml 1箱，主仓 → 门店仓" in texts(await console.say("li", "把1箱雪碧调到门店"))
    assert "雪碧 500ml 2瓶，主仓 → 门店仓" in texts(await console.say("li", "调拨 雪碧 2瓶 到门店"))
    back = texts(await console.say("li", "将雪碧 3瓶 从门店调拨到主仓。"))
    assert "雪碧 500ml 3瓶，门店仓 → 主仓" in back
    # cola: 100罐 in 主仓, 20罐 in 门店仓; into 门店 only 主仓 can spare 1箱, into 主仓 门店仓 cannot spare 1箱
    assert "可口可乐 330ml 1箱，主仓 → 门店仓" in texts(await console.say("li", "调拨 可口可乐 330ml 1箱 到 门店"))
    refused = texts(await console.say("li", "调拨 可口可乐 330ml 2箱 到 主仓"))
    assert refused == "没有别的仓库能调出 可口可乐 330ml 2箱（可用：门店仓 1箱20罐）"
    # The spec glued to the name and a quantity after it: the quantity was taken for the source (没有找到仓库“1箱”).
    assert "可口可乐 330ml 1箱，主仓 → 门店仓" in texts(await console.say("li", "调拨 可口可乐330 1箱 到 门店"))


async def test_a_transfer_or_count_of_text_that_fits_several_products_gets_a_card_to_pick_one(console: Console) -> None:
    """They answered 没有确定是哪个商品“可口可乐”，请写得更具体些 with no names to choose from: now the pick card
    下单 and 采购 have, and the command goes on from the press."""
    choice = card(await console.say("li", "调拨 可口可乐 1箱 到 门店"))
    assert choice["title"] == "“可口可乐”是哪一个？"
    assert [b["label"] for b in choice["buttons"]] == ["可口可乐 330ml", "可口可乐 1.25L"]
    assert "只有老李本人可以选" in texts(await console.press("zhang", choice, "可口可乐 330ml"))
    moved = texts(await console.press("li", choice, "可口可乐 330ml"))
    assert "已调拨 TR-" in moved and "可口可乐 330ml 1箱，主仓 → 门店仓" in moved
    assert "已调拨" not in texts(await console.press("li", choice, "可口可乐 330ml"))  # one press moves it once

    choice = card(await console.say("li", "盘点 门店 可口可乐"))
    assert choice["title"] == "“可口可乐”是哪一个？"
    asked = texts(await console.press("li", choice, "可口可乐 330ml"))
    assert "可口可乐 330ml 在门店仓有 2 个批次" in asked  # the warehouse named is kept: L2, and L1 moved in
    assert "第 2/2 个批次 L2" in texts(await console.say("li", "1箱"))
    assert "账实相符" in texts(await console.say("li", "20"))
    assert texts(await console.say("li", "调拨 百事 1箱 到 门店")).startswith("没有找到“百事”")


async def test_alerts_and_today(console: Console) -> None:
    assert "没有临期或过期的批次" in texts(await console.say("li", "临期"))  # lots 120 and 210 days ahead
    assert "所有商品都在安全库存以上" in texts(await console.say("chen", "缺货"))
    draft = card(await console.say("wang", "下单 华联 雪碧 1箱"))
    await console.press("wang", draft, "确认")
    today = texts(await console.say("wang", "今日销售"))
    assert "新订单: 1 张，¥48.00" in today and "毛利" not in today
    assert "毛利" in texts(await console.say("zhang", "今日销售"))


async def _received_today(console: Console) -> None:
    """10箱 雪碧 bought from 太古 at ¥300.00, approved and received."""
    submitted = texts(await console.say("chen", "采购 雪碧 10箱 供应商 太古"))
    number = re.search(r"PO-\d{8}-\d{4}", submitted)
    assert number, submitted
    await console.replies("zhang2")
    await console.press("zhang", card(await console.replies("zhang")), "批准")
    assert f"已入库 {number.group(0)}" in texts(await console.say("li", f"入库 {number.group(0)}"))


async def test_today_shows_a_salesperson_no_purchase_value_and_no_margin(console: Console) -> None:
    await _received_today(console)
    today = texts(await console.say("wang", "今日销售"))
    assert "到货: 1 次" in today.splitlines()
    assert "¥300.00" not in today and "付款" not in today and "成本" not in today and "毛利" not in today
    manager = texts(await console.say("zhang", "今日销售"))
    assert "到货: 1 次，¥300.00" in manager and "毛利" in manager


async def test_today_said_into_a_group_shows_no_costs_whoever_asked(console: Console) -> None:
    await _received_today(console)
    today = texts(await console.in_group("zhang", "@psibot 今日销售"))
    assert "到货: 1 次" in today.splitlines()
    assert "¥300.00" not in today and "付款" not in today and "成本" not in today and "毛利" not in today


async def test_admin_binds_a_colleague_who_can_then_use_the_bot(console: Console) -> None:
    assert "还没有开通" in texts(await console.say("liu", "帮助"))
    assert "没有权限" in texts(await console.say("zhang", "绑定 @小刘 仓管", mentions=["liu"]))
    assert "已绑定 小刘 为仓管" in texts(await console.say("admin", "绑定 @小刘 仓管", mentions=["liu"]))
    assert "已为您开通" in texts(await console.replies("liu"))
    assert "库存 · 雪碧" in texts(await console.say("liu", "库存 雪碧"))


async def test_a_product_with_several_lots_is_counted_lot_by_lot(console: Console) -> None:
    await console.say("li", "调拨 可口可乐330 20 门店 到 主仓")  # now lots L1 and L2 in 主仓
    asked = texts(await console.say("li", "盘点 主仓 可口可乐330 100"))
    assert "有 2 个批次" in asked and "批次 L1" in asked
    assert "批次 L2" in texts(await console.say("li", "4箱"))
    done = texts(await console.say("li", "20"))
    assert "账面 5箱，实盘 4箱20罐，盘亏 4罐，库存已调整" in done


async def test_a_count_of_several_lots_says_why_it_asks_lot_by_lot(console: Console, db: Database) -> None:
    """A total for several lots cannot be split between them: it is said so, and each lot is asked for
    with its place in the round and what the books hold."""
    l3_expiry = days_from_today(150)
    await add_cola_lot(db, console.world, 30, "L3", l3_expiry)  # 主仓: L1 100罐, L3 30罐
    asked = texts(await console.say("li", "盘点 可口可乐330 118"))
    assert "可口可乐 330ml 在主仓有 2 个批次" in asked
    assert "您报的 4箱22罐（118罐）是总数，没法分到各批次，请逐个批次报数" in asked
    assert f"第 1/2 个批次 L1（到期 {L1_EXPIRY}），账面 4箱4罐，实盘多少？" in asked
    second = texts(await console.say("li", "4箱"))
    assert f"第 2/2 个批次 L3（到期 {l3_expiry}），账面 1箱6罐，实盘多少？" in second
    assert "账面 5箱10罐，实盘 5箱6罐，盘亏 4罐，库存已调整" in texts(await console.say("li", "30"))

    from_card = texts(await console.press("li", card(await console.say("li", "库存 可口可乐330")), "盘点"))
    assert "可口可乐 330ml 在主仓有 2 个批次，请逐个批次报数" in from_card and "总数" not in from_card
    assert "第 1/2 个批次 L1" in from_card
    refused = texts(await console.say("li", "好多"))
    assert "没看懂数量" in refused and "第 1/2 个批次 L1" in refused


async def test_digits_right_after_a_name_are_the_name_s_when_a_product_holds_them(console: Console) -> None:
    """`盘点 门店 可口可乐330` counted 330 of whatever 可口可乐 was; the catalog tells a spec from a count."""
    asked = texts(await console.say("li", "盘点 门店 可口可乐330"))
    assert f"请回复 可口可乐 330ml 在门店仓 批次 L2（到期 {L2_EXPIRY}）的实盘数量，账面 20罐" in asked
    assert "账面 20罐，实盘 18罐，盘亏 2罐，库存已调整" in texts(await console.say("li", "18"))
    # No name holds 雪碧60 nor 雪碧33 (雪碧 500ml): the digits are the count
    assert "雪碧 500ml：账面 5箱，实盘 5箱，账实相符" in texts(await console.say("li", "盘点 雪碧60"))
    assert "实盘 2箱9瓶" in texts(await console.say("li", "盘点 雪碧33"))
    assert "实盘 4箱4罐" in texts(await console.say("li", "盘点 主仓 可口可乐330 100"))


async def test_chinese_numerals_right_after_a_name_are_the_name_s_when_a_product_holds_them(
    console: Console, db: Database
) -> None:
    """`盘点 统一` counted 1 of 统 (统一 冰红茶: stock set to 1 bottle); numerals are settled by the catalog as
    digits are: 统一 is a name, so the count is asked, and no name holds 雪碧十二, so 12 is the count."""
    async with db.session() as session:
        tea = await make_product(session, "T001", "统一 冰红茶 500ml", base_unit="瓶", case=15, barcode=None)
        await opening_stock(
            session, console.world.warehouse_user, product_id=tea.id or 0, warehouse_id=console.world.main.id or 0,
            quantity=Decimal(30),
        )
    asked = texts(await console.say("li", "盘点 统一"))
    assert "请回复 统一 冰红茶 500ml 在主仓" in asked and "的实盘数量，账面 2箱" in asked
    assert "账面 2箱，实盘 1箱14瓶，盘亏 1瓶，库存已调整" in texts(await console.say("li", "二十九"))
    assert "雪碧 500ml：账面 5箱，实盘 1箱，盘亏 4箱，库存已调整" in texts(await console.say("li", "盘点 雪碧十二"))
    # a transfer alike (it moved 1 bottle)
    assert texts(await console.say("li", "调拨 统一 主仓 到 门店")) == "请写上调拨数量，例如：调拨 统一 20 主仓 到 门店仓"


async def test_a_transfer_whose_digits_are_the_name_s_asks_for_the_quantity(console: Console) -> None:
    asked = texts(await console.say("li", "调拨 可口可乐330 主仓 到 门店"))
    assert asked == "请写上调拨数量，例如：调拨 可口可乐330 20 主仓 到 门店仓"
    assert "雪碧 500ml 6瓶，主仓 → 门店仓" in texts(await console.say("li", "调拨 雪碧6 主仓 到 门店"))
    assert "可口可乐 330ml 1箱，主仓 → 门店仓" in texts(await console.say("li", "调拨 可口可乐330 1箱 主仓 到 门店"))


async def test_a_bad_count_answer_is_refused_and_asked_again(console: Console) -> None:
    assert "实盘数量" in texts(await console.say("li", "盘点 雪碧"))
    negative = texts(await console.say("li", "-5"))
    assert "数量不能为负" in negative and "实盘数量" in negative and "没看懂这句话" not in negative
    unclear = texts(await console.say("li", "好多"))
    assert "没看懂数量" in unclear and "实盘数量" in unclear
    wrong_unit = texts(await console.say("li", "5包"))
    assert "没有单位“包”" in wrong_unit and "实盘数量" in wrong_unit
    assert "账面 5箱，实盘 5箱，账实相符" in texts(await console.say("li", "5箱"))


async def test_a_transfer_of_a_quantity_that_cannot_be_taken_is_refused(console: Console, db: Database) -> None:
    """`-2箱` once moved 2箱."""
    assert "数量不能为负数" in texts(await console.say("li", "调拨 雪碧 -2箱 主仓 到 门店"))
    assert "数量不能为 0" in texts(await console.say("li", "调拨 雪碧 0箱 主仓 到 门店"))
    too_many = texts(await console.say("li", "调拨 雪碧 99999999999999999999箱 主仓 到 门店"))
    assert f"数量太大：最多 {format_quantity(MAX_LINE_QUANTITY)}瓶" in too_many
    async with db.session() as session:
        assert (await session.scalars(select(Transfer))).all() == []
    assert "门店仓" not in texts(await console.say("li", "库存 雪碧"))


async def test_a_count_takes_zero_but_not_a_negative_or_huge_quantity(console: Console) -> None:
    assert "数量不能为负数" in texts(await console.say("li", "盘点 雪碧 -5"))
    too_many = texts(await console.say("li", "盘点 雪碧 99999999999999999999箱"))
    assert f"数量太大：最多 {format_quantity(MAX_LINE_QUANTITY)}瓶" in too_many
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))
    assert "实盘 0瓶，盘亏 5箱" in texts(await console.say("li", "盘点 雪碧 0"))  # an empty shelf is a count


async def test_a_transfer_short_of_stock_says_how_short_with_units(console: Console) -> None:
    short = texts(await console.say("li", "调拨 雪碧 6箱 主仓 到 门店"))
    assert "雪碧 500ml 库存不足：主仓可用 5箱（60瓶），要调 6箱（72瓶），缺 1箱（12瓶）" in short
    assert "缺 10瓶" in texts(await console.say("li", "调拨 雪碧 70 主仓 到 门店"))


async def test_a_count_below_what_orders_reserved_names_both_with_units(console: Console) -> None:
    await console.press("wang", card(await console.say("wang", "下单 华联 雪碧 3箱")), "确认")
    refused = texts(await console.say("li", "盘点 雪碧 2箱"))
    assert "雪碧 500ml 盘点后只剩 2箱，少于销售单已预留的 3箱" in refused
    assert "可用: 2箱" in texts(await console.say("li", "库存 雪碧"))  # 5箱 on hand, 3箱 reserved: nothing booked


async def test_products_of_one_name_are_told_apart_by_their_spec(console: Console, db: Database) -> None:
    """Two 百事可乐, 330ml and 500ml: every reply names the spec, as the stock card does."""
    async with db.session() as session:
        await make_product(session, "B330", "百事可乐", spec="330ml", barcode=None, safety_stock="48")
        large = await make_product(
            session, "B500", "百事可乐", spec="500ml", base_unit="瓶", barcode=None, safety_stock="48", shelf_life_days=365,
        )
        await opening_stock(
            session, console.world.warehouse_user, product_id=large.id or 0, warehouse_id=console.world.main.id or 0,
            quantity=Decimal(24), lot_no="B1", expiry_date=days_from_today(10),
        )
    assert "请回复 百事可乐（500ml） 在主仓 批次 B1（到期 " in texts(await console.say("li", "盘点 百事可乐500ml"))
    assert "百事可乐（500ml）：账面 1箱，实盘 1箱，账实相符" in texts(await console.say("li", "24"))
    moved = texts(await console.say("li", "调拨 百事可乐500ml 12 主仓 到 门店"))
    assert "百事可乐（500ml） 12瓶，主仓 → 门店仓" in moved
    low = texts(await console.say("chen", "缺货"))
    assert "百事可乐（330ml） | 0罐 | 2箱" in low and "百事可乐（500ml） | 1箱 | 2箱" in low
    assert "百事可乐（500ml） | 主仓 | B1" in texts(await console.say("li", "临期"))


async def test_half_a_bottle_is_refused_in_counts_and_transfers(console: Console) -> None:
    assert "雪碧 500ml 只能是整瓶，不能是 0.5瓶" in texts(await console.say("li", "调拨 雪碧 0.5 主仓 到 门店"))
    assert "雪碧 500ml 只能是整瓶，不能是 59.5瓶" in texts(await console.say("li", "盘点 雪碧 59.5"))
    asked = texts(await console.say("li", "盘点 雪碧"))
    assert "实盘数量" in asked
    again = texts(await console.say("li", "4箱11.5瓶"))
    assert "只能是整瓶，不能是 59.5瓶" in again and "实盘数量" in again
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))
    assert "已调拨" in texts(await console.say("li", "调拨 雪碧 0.5箱 主仓 到 门店"))  # 6 bottles


async def test_the_near_expiry_list_asked_for_is_acted_on_like_the_alert(console: Console, db: Database) -> None:
    await add_cola_lot(db, console.world, 30, "SOON", days_from_today(5))
    listed = card(await console.say("li", "临期"))
    assert [b["label"] for b in listed["buttons"]] == ["查看批次", "标记处理"]
    assert listed["tables"][0]["rows"][0][2:] == ["SOON", str(days_from_today(5)), "5天", "1箱6罐"]
    asked = card(await console.press("li", listed, "标记处理"))
    assert [b["label"] for b in asked["buttons"]] == ["促销", "退货", "报损"]
    assert texts(await console.press("li", asked, "促销")).startswith("已标记 可口可乐 330ml SOON：促销")
    viewed = texts(await console.press("li", listed, "查看批次"))
    assert f"可口可乐 330ml | 主仓 | SOON | - | {days_from_today(5)} | 5天 | 1箱6罐 | 1箱6罐 | 促销" in viewed


async def test_a_long_near_expiry_list_is_paged_and_its_last_lots_are_acted_on(console: Console, db: Database) -> None:
    """35 lots: pages of 10 with 下一页 until the last, each page's buttons for its own lots (they once acted
    on the first 30 of one card listing all)."""
    for day in range(1, 36):
        await add_cola_lot(db, console.world, 24, f"N{day:02d}", days_from_today(day))
    page = card(await console.say("li", "临期"))
    pages = [page]
    while "下一页" in [b["label"] for b in page["buttons"]]:
        page = card(await console.press("li", page, "下一页"))
        pages.append(page)
    assert [[row[2] for row in p["tables"][0]["rows"]] for p in pages] == [
        [f"N{day:02d}" for day in range(first, min(first + 10, 36))] for first in (1, 11, 21, 31)
    ]
    assert [b["label"] for b in pages[0]["buttons"]] == ["查看批次", "标记处理", "下一页"]
    assert pages[0]["note"].startswith("第 1/4 页，共 35 个批次，按钮只对本页的批次，后面的请点“下一页”\n")
    assert [b["label"] for b in pages[-1]["buttons"]] == ["查看批次", "标记处理"]
    assert pages[-1]["note"].startswith("第 4/4 页，共 35 个批次，按钮只对本页的批次\n")
    assert ["临期批次", "35"] in pages[-1]["fields"]

    picked = card(await console.press("li", pages[-1], "标记处理"))
    assert [b["label"] for b in picked["buttons"]] == [f"可口可乐 330ml N{day}" for day in range(31, 36)]
    asked = card(await console.press("li", picked, "可口可乐 330ml N33"))
    assert texts(await console.press("li", asked, "退货")).startswith("已标记 可口可乐 330ml N33：退货")
    viewed = texts(await console.press("li", pages[-1], "查看批次")).splitlines()
    assert [line.split(" | ")[2] for line in viewed if " | N3" in line] == ["N31", "N32", "N33", "N34", "N35"]
    assert f"可口可乐 330ml | 主仓 | N33 | - | {days_from_today(33)} | 33天 | 1箱 | 1箱 | 退货" in viewed
    full = card(await console.press("li", pages[0], "标记处理"))
    assert [b["label"] for b in full["buttons"]] == [f"可口可乐 330ml N{day:02d}" for day in range(1, 11)]
    # ten buttons, of which DingTalk shows 4 and WeCom 6: the rows are numbered, and a number typed picks
    assert full["tables"][0]["rows"][6] == ["7", "可口可乐 330ml N07"]
    assert card(await console.say("li", "7"))["title"] == "标记处理 · 可口可乐 330ml N07"
