"""报损 from chat: a card shows what would leave, only its maker's press books it, once."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from core.db import Database
from core.documents import WriteOff
from tests.scenario.conftest import L2_EXPIRY, Console, add_cola_lot, card, days_from_today, texts


async def test_a_write_off_is_shown_then_booked_once_by_its_maker(console: Console, db: Database) -> None:
    shown = card(await console.say("li", "报损 雪碧 6瓶 破损"))
    assert shown["title"] == "报损确认 · 雪碧 500ml"
    assert ["仓库", "主仓"] in shown["fields"] and ["数量", "6瓶"] in shown["fields"] and ["原因", "破损"] in shown["fields"]
    assert ["成本", "约 ¥15.00（按平均成本）"] in shown["fields"]  # 6 × ¥2.50, to a warehouse person in a direct chat
    assert [b["label"] for b in shown["buttons"]] == ["确认报损", "取消"]
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))  # nothing left the books yet

    assert "只有老李本人可以确认" in texts(await console.press("zhang", shown, "确认报损"))
    pressed = await console.press("li", shown, "确认报损")
    done = texts(pressed)
    assert "雪碧 500ml 6瓶（主仓），原因：破损。损失 ¥15.00（按平均成本）" in done
    number = re.search(r"已报损 (BS-\d{8}-\d{4})：", done).group(1)
    booked_card = card(pressed)
    assert booked_card["title"] == f"报损单 {number} · 雪碧 500ml" and booked_card["buttons"] == []
    assert booked_card["status"].startswith(f"已报损 {number} · 老李")
    assert f"这张报损已确认为 {number}" in texts(await console.press("li", shown, "确认报损"))
    assert "可用: 4箱6瓶" in texts(await console.say("li", "库存 雪碧"))
    assert "报损: 1 次，¥15.00" in texts(await console.say("li", "今日销售"))
    assert "报损: 1 次\n" in texts(await console.in_group("li", "今日销售")) + "\n"  # no value into a group
    async with db.session() as session:
        booked = (await session.scalars(select(WriteOff))).all()
    assert [(w.number, w.quantity, w.value, w.reason) for w in booked] == [(number, Decimal(6), Decimal("15.00"), "破损")]


async def test_the_reason_is_chosen_on_the_card_and_cancel_changes_nothing(console: Console) -> None:
    asked = card(await console.say("li", "报损 雪碧 2瓶"))
    assert [b["label"] for b in asked["buttons"]] == ["过期", "破损", "变质", "丢失", "取消"]
    assert "雪碧 500ml 2瓶（主仓），原因：变质" in texts(await console.press("li", asked, "变质"))
    cancelled = card(await console.say("li", "报损 雪碧 1箱 丢失"))
    assert "已取消报损，库存没有变化" in texts(await console.press("li", cancelled, "取消"))
    assert "可用: 4箱10瓶" in texts(await console.say("li", "库存 雪碧"))  # 60 − 2, the cancelled 1箱 still there
    assert "这张卡片已过期" in texts(await console.press("li", cancelled, "取消"))


async def test_without_a_quantity_every_expired_lot_is_written_off(console: Console, db: Database) -> None:
    assert "雪碧 500ml 没有过期批次，请写明报损数量，例如：报损 雪碧 5" in texts(await console.say("li", "报损 雪碧"))
    await add_cola_lot(db, console.world, 30, "OLD", days_from_today(-3))
    shown = card(await console.say("li", "报损 可口可乐 330ml"))
    assert shown["tables"][0]["rows"] == [["OLD", str(days_from_today(-3)), "1箱6罐"]]
    # only expired lots are taken: their reason goes without saying, as on a near-expiry lot's 报损 button
    assert ["原因", "过期"] in shown["fields"] and [b["label"] for b in shown["buttons"]] == ["确认报损", "取消"]
    assert "可口可乐 330ml 1箱6罐（主仓），原因：过期" in texts(await console.press("li", shown, "确认报损"))
    stock = texts(await console.say("li", "库存 可口可乐 330ml"))
    assert "OLD" not in stock


async def test_digits_that_end_a_name_are_no_quantity_to_write_off(console: Console, db: Database) -> None:
    """`报损 可口可乐330`: 可口可乐 330ml without a quantity, so its expired lots; 330 was once the quantity."""
    await add_cola_lot(db, console.world, 30, "OLD", days_from_today(-3))
    shown = card(await console.say("li", "报损 可口可乐330"))
    assert shown["title"] == "报损确认 · 可口可乐 330ml"
    assert shown["tables"][0]["rows"] == [["OLD", str(days_from_today(-3)), "1箱6罐"]]
    by_count = card(await console.say("li", "报损 雪碧6 破损"))  # no name holds 雪碧6: six bottles
    assert ["数量", "6瓶"] in by_count["fields"] and ["原因", "破损"] in by_count["fields"]


async def test_where_the_stock_is_in_several_warehouses_the_warehouse_is_asked(console: Console) -> None:
    asked = texts(await console.say("li", "报损 可口可乐 330ml 1罐 破损"))
    assert "可口可乐 330ml 在主仓、门店仓都有库存，请写明仓库，例如：报损 主仓 可口可乐 330ml 1罐" in asked
    shown = card(await console.say("li", "报损 门店 可口可乐 330ml 1罐 破损"))
    assert ["仓库", "门店仓"] in shown["fields"] and shown["tables"][0]["rows"][0][0] == "L2"
    by_lot = card(await console.say("li", "报损 可口可乐 330ml 批次 l2 破损"))  # the lot says where it is
    assert ["仓库", "门店仓"] in by_lot["fields"] and by_lot["tables"][0]["rows"] == [["L2", str(L2_EXPIRY), "20罐"]]
    too_much = texts(await console.say("li", "报损 门店 可口可乐 330ml 2箱 破损"))
    assert "在门店仓可报损 20罐，要报损 2箱" in too_much


async def test_who_may_write_off_and_what_a_group_sees(console: Console) -> None:
    assert "没有权限" in texts(await console.say("wang", "报损 雪碧 1瓶 破损"))
    assert "格式: 报损 可乐 5罐 破损" in texts(await console.say("li", "报损"))
    in_group = await console.in_group("li", "报损 雪碧 1瓶 破损")
    assert not any(label == "成本" for label, _ in card(in_group)["fields"])


async def test_managers_are_told_of_a_write_off_and_one_undo_puts_the_stock_back(console: Console) -> None:
    shown = card(await console.say("li", "报损 雪碧 1箱 破损"))
    done = texts(await console.press("li", shown, "确认报损"))
    number = re.search(r"已报损 (BS-\d{8}-\d{4})：", done).group(1)
    assert f"已通知经理；如有误，请经理撤销（撤销报损 {number}）" in done
    notices = {who: card(await console.replies(who)) for who in ("zhang", "zhang2", "zhao")}
    notice = notices["zhang"]
    assert notice["title"] == f"报损 {number} · 雪碧 500ml" and notice["card_id"] == notices["zhao"]["card_id"]
    for field in (["仓库", "主仓"], ["数量", "1箱"], ["原因", "破损"], ["报损人", "老李"], ["损失", "¥30.00（按平均成本）"]):
        assert field in notice["fields"]
    assert [b["label"] for b in notice["buttons"]] == ["撤销报损"]

    assert "没有权限撤销报损" in texts(await console.say("li", f"撤销报损 {number}"))  # the booker asks a manager
    undone = texts(await console.press("zhang", notice, "撤销报损"))
    assert f"已撤销报损 {number}：雪碧 500ml 1箱 已回到主仓（原批次）" in undone
    assert f"张经理 撤销了您的报损 {number}：雪碧 500ml 1箱 已回到主仓" in texts(await console.replies("li"))
    marked = [r for r in await console.replies("zhang2") if r["type"] == "card"][-1]  # every copy, not only the presser's
    assert marked["buttons"] == [] and marked["status"].startswith("已撤销 · 张经理")
    assert f"报损单 {number} 已由 张经理 于" in texts(await console.say("zhao", f"撤销 {number.lower()}"))
    assert "可用: 5箱" in texts(await console.say("li", "库存 雪碧"))
    assert "报损" not in texts(await console.say("zhang", "今日销售"))  # a reversed write-off lost nothing


async def test_undo_names_what_was_wrong(console: Console) -> None:
    assert "格式: 撤销报损 BS-20261204-0001" in texts(await console.say("zhang", "撤销"))
    assert "没有报损单 BS-20261204-0099" in texts(await console.say("zhang", "撤销报损 BS-20261204-0099"))
    assert "SO-20261204-0001 不是报损单：只能撤销报损单（BS-…）" in texts(await console.say("zhang", "undo SO-20261204-0001"))
    shown = card(await console.say("zhang", "报损 雪碧 2瓶 破损"))  # a manager's own write-off: nobody else to tell but the owner
    done = texts(await console.press("zhang", shown, "确认报损"))
    assert "已通知经理" in done  # 李经理 and 赵老板 were told
    assert "撤销报损" in texts(await console.replies("zhao"))


async def test_typed_words_act_on_the_latest_write_off_card_as_its_buttons_do(console: Console, db: Database) -> None:
    shown = card(await console.say("li", "报损 雪碧 6瓶 破损"))
    assert texts(await console.say("li", "修改")) == "您最近的报损卡片不能修改，可以发“确认报损”或“取消”。"
    assert texts(await console.say("zhang", "确认")).startswith("没有待确认的草稿")  # 老李's card, not 张经理's
    confirmed = await console.say("li", "确认")
    number = re.search(r"已报损 (BS-\d{8}-\d{4})：雪碧 500ml 6瓶（主仓），原因：破损。", texts(confirmed)).group(1)
    booked = next(r for r in confirmed if r["type"] == "card")
    assert booked["card_id"] == shown["card_id"] and booked["status"].startswith(f"已报损 {number} · 老李")
    assert texts(await console.say("li", "确认报损")) == f"这张报损已确认为 {number}。"  # as a second press

    lost = card(await console.say("li", "报损 雪碧 1瓶 丢失"))
    cancelled = await console.say("li", "cancel")
    assert [r["text"] for r in cancelled if r["type"] == "text"] == ["已取消报损，库存没有变化。"]
    assert next(r for r in cancelled if r["type"] == "card")["status"].startswith("已取消 · 老李")
    assert texts(await console.press("li", lost, "确认报损")) == "这张卡片已过期，请重新发起。"

    card(await console.say("li", "报损 雪碧 2瓶"))  # the reason is pressed on the card, it cannot be typed
    assert texts(await console.say("li", "确认")) == "请在报损卡片上点选原因（过期、破损、变质、丢失）即确认报损，或发“取消”。"
    assert "可用: 4箱6瓶" in texts(await console.say("li", "库存 雪碧"))  # only the 6瓶 left the books
    async with db.session() as session:
        assert [w.number for w in (await session.scalars(select(WriteOff))).all()] == [number]


async def test_a_typed_confirm_is_for_the_latest_card_whatever_its_kind(console: Console) -> None:
    """A manager both sells and writes off: 确认 is for the card made last, and a 报损 that made no card leaves
    none to confirm."""
    order = card(await console.say("zhang", "下单 华联 雪碧 2瓶"))
    card(await console.say("zhang", "报损 雪碧 1瓶 破损"))
    assert "已报损 BS-" in texts(await console.say("zhang", "确认"))
    assert "已预留" not in texts(await console.say("li", "库存 雪碧"))  # the order draft was not confirmed
    assert "没有批次 l9 的库存" in texts(await console.say("zhang", "报损 雪碧 批次 l9"))
    assert texts(await console.say("zhang", "确认")).startswith("没有待确认的草稿")
    assert "已下单 SO-" in texts(await console.press("zhang", order, "确认"))  # untouched, still open


async def test_a_lot_that_is_not_there_is_named_as_it_was_typed(console: Console) -> None:
    """Chat text is read in lower case (bot.parser.fold) and lots are matched in any case; the refusal
    names the lot as the person wrote it, L9, not l9, whether the warehouse was named or found."""
    assert texts(await console.say("li", "报损 雪碧 批次 L9")) == "雪碧 500ml 没有批次 L9 的库存"
    assert texts(await console.say("li", "报损 主仓 雪碧 批次 Lx-9 破损")) == "雪碧 500ml 在主仓没有批次 Lx-9 的库存"
    found = card(await console.say("li", "报损 可口可乐 330ml 批次 l2 破损"))  # found whatever its case
    assert found["tables"][0]["rows"][0][0] == "L2"
