"""Stock questions through the console, as salespeople and warehouse staff ask them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.engine import MAX_EVENTS_IN_WORK
from core.db import Database
from core.importer import import_products, read_table
from tests.factories import make_product
from tests.scenario.conftest import L1_EXPIRY, Console, add_cola_lot, card, days_from_today, texts


async def test_salesperson_sees_available_stock_per_warehouse_and_no_costs(console: Console) -> None:
    replies = await console.say("wang", "库存 可口可乐330")
    stock = card(replies)
    assert stock["title"] == "库存 · 可口可乐 330ml"
    assert ["仓库", "可用"] == stock["tables"][0]["columns"]
    body = texts(replies)
    assert "主仓 | 4箱4罐" in body and "门店仓 | 20罐" in body
    assert "成本" not in body and "批次" not in body
    assert [b["label"] for b in stock["buttons"]] == ["下单"]


async def test_warehouse_sees_lots_and_expiry_and_gets_warehouse_actions(console: Console) -> None:
    replies = await console.say("li", "查 6901234567892")
    body = texts(replies)
    assert f"主仓 | L1 | {L1_EXPIRY} | 4箱4罐 | 4箱4罐" in body
    assert [b["label"] for b in card(replies)["buttons"]] == ["入库", "盘点"]


async def test_warehouse_and_manager_see_the_cost_in_a_direct_chat(console: Console) -> None:
    for person in ("li", "zhang"):
        assert "成本: ¥2.50/瓶" in texts(await console.say(person, "库存 雪碧"))


async def test_a_stock_card_said_into_a_group_shows_no_cost_whoever_asked(console: Console) -> None:
    """A group may hold salespeople: the warehouse's question is answered there without the cost."""
    for person in ("li", "zhang"):
        answer = await console.in_group(person, "@psibot 库存 雪碧")
        assert card(answer)["title"] == "库存 · 雪碧 500ml"
        assert "在库: 5箱" in texts(answer) and "成本" not in texts(answer)


async def test_expired_stock_is_not_available_to_sell_and_staff_see_it_marked(console: Console, db: Database) -> None:
    expiry = days_from_today(-2)
    await add_cola_lot(db, console.world, 48, "L0", expiry)  # 2箱 in 主仓, expired two days ago

    sales = texts(await console.say("wang", "库存 可口可乐330"))
    assert "可用: 5箱" in sales and "主仓 | 4箱4罐" in sales  # 100 + 20 sellable; the 48 expired are not there
    assert "过期" not in sales and "L0" not in sales

    staff = texts(await console.say("li", "查 6901234567892"))
    assert "可用: 5箱" in staff and "在库: 7箱" in staff and "已过期: 2箱" in staff
    assert f"主仓 | L0 | {expiry} 已过期 | 2箱 | 0罐" in staff
    assert f"主仓 | L1 | {L1_EXPIRY} | 4箱4罐 | 4箱4罐" in staff


async def test_traditional_chinese_finds_the_product(console: Console) -> None:
    assert card(await console.say("wang", "庫存 可口可樂330"))["title"] == "库存 · 可口可乐 330ml"
    assert "找到 2 个商品" in card(await console.say("wang", "庫存 可口可樂"))["title"]


async def test_english_and_pinyin_initials_find_the_product(console: Console) -> None:
    assert "雪碧 500ml" in texts(await console.say("li", "stock xb"))


async def test_several_matches_give_a_card_to_pick_from(console: Console) -> None:
    replies = await console.say("wang", "库存 可口可乐")
    pick = card(replies)
    assert "找到 2 个商品" in pick["title"]
    chosen = await console.press("wang", pick, "可口可乐 1.25L")
    assert "库存 · 可口可乐 1.25L" in texts(chosen)
    assert "暂无库存" in texts(chosen)


async def test_the_only_name_that_begins_with_the_text_gives_its_stock_card(console: Console, db: Database) -> None:
    """`库存 可口可乐330` gave the pick card once 零度可口可乐 330ml also held the text; several names that begin
    with it still give the pick card."""
    async with db.session() as session:
        await make_product(session, "P004", "零度可口可乐 330ml", barcode=None)
    assert card(await console.say("wang", "库存 可口可乐330"))["title"] == "库存 · 可口可乐 330ml"
    assert card(await console.say("wang", "库存 可口可乐 330ml"))["title"] == "库存 · 可口可乐 330ml"
    assert "找到 3 个商品" in card(await console.say("wang", "库存 可口可乐"))["title"]  # 330ml and 1.25L begin so
    assert card(await console.say("wang", "库存 零度"))["title"] == "库存 · 零度可口可乐 330ml"


async def test_emoticon_codes_nod_alone_and_are_no_part_of_a_query(console: Console) -> None:
    """WeCom and DingTalk send [强] for 👍: it got 没看懂 and the help card, and 库存 雪碧[微笑] found nothing."""
    for text in ("[强]", "[OK]", "[抱拳]", "收到[强]"):
        assert await console.say("wang", text) == [{"type": "text", "text": "好的，有需要随时找我。"}], text
    assert card(await console.say("wang", "库存 雪碧[微笑]"))["title"] == "库存 · 雪碧 500ml"
    assert "没看懂" in card(await console.say("wang", "[微笑]"))["note"]  # as 😀 alone


async def test_no_match_names_the_closest_products(console: Console) -> None:
    replies = await console.say("wang", "库存 百事")
    assert replies == [{"type": "text", "text": "没有找到“百事”。可以试试商品全名、拼音首字母（如 kkkl）或扫条码。"}]
    assert "雪碧 500ml" in texts(await console.say("wang", "库存 雪壁"))  # a typo still finds it


async def test_a_name_typed_with_characters_of_the_same_sound_finds_the_product(console: Console) -> None:
    """可口可了 sounds as 可口可乐: the pinyin input method's slip is read by its sound, in every command."""
    assert card(await console.say("wang", "库存 可口可了330"))["title"] == "库存 · 可口可乐 330ml"
    draft = card(await console.say("wang", "下单 华连 雪币 5瓶"))
    assert draft["title"] == "销售单草稿 · 华联超市"
    assert draft["tables"][0]["rows"][0][:2] == ["雪碧 500ml", "5瓶"]
    pasted = texts(await console.say("wang", "库存 " + "百事可乐无糖" * 1000))
    assert "没有找到“百事可乐无糖百事可乐无糖百事可乐无糖百事…”" in pasted and len(pasted) < 200


async def test_stranger_is_told_whom_to_ask_and_nothing_else(console: Console) -> None:
    replies = await console.say("nobody", "库存 可乐")
    assert len(replies) == 1
    assert "还没有开通" in replies[0]["text"] and "管理员" in replies[0]["text"]
    assert "可口可乐" not in replies[0]["text"]


async def test_anything_else_gets_a_short_help_card_never_silence(console: Console) -> None:
    replies = await console.say("wang", "今天天气怎么样")
    assert card(replies)["title"] == "psibot 可以帮您"
    assert "没看懂" in card(replies)["note"]


async def test_a_greeting_gets_a_hello_naming_what_i_can_do_not_the_help_card(console: Console) -> None:
    for text in ("你好", "在吗？", "hi"):
        replies = await console.say("wang", text)
        assert [r["type"] for r in replies] == ["text"]
        assert replies[0]["text"] == "您好，小王！我可以帮您：查库存、下单、退货、收款、欠款、今日销售。发送“帮助”看全部命令。"
    assert "盘点、调拨" in (await console.say("li", "您好"))[0]["text"]


async def test_thanks_and_acknowledgements_get_a_short_reply_and_no_help_card(console: Console) -> None:
    for text, answer in (("谢谢", "不客气！有需要随时找我。"), ("辛苦了", "不客气！有需要随时找我。"),
                         ("好的", "好的，有需要随时找我。"), ("收到", "好的，有需要随时找我。"), ("ok", "好的，有需要随时找我。")):
        assert await console.say("wang", text) == [{"type": "text", "text": answer}]


async def test_a_thumbs_up_is_an_acknowledgement_and_other_emoji_alone_get_the_short_help(console: Console) -> None:
    """👍 alone once got 没看懂 and the help card, as 好的 did before it was understood."""
    for text in ("👍", "🙏", "👌🏻", "👍👍"):
        assert await console.say("wang", text) == [{"type": "text", "text": "好的，有需要随时找我。"}], text
    replies = await console.say("wang", "😀")
    assert card(replies)["title"] == "psibot 可以帮您" and "没看懂" in card(replies)["note"]


async def test_a_thank_you_in_the_middle_of_a_count_leaves_the_count_waiting(console: Console) -> None:
    """Free text is offered to the flow first, a thank-you too: it is no command that ends it."""
    await console.say("li", "盘点 雪碧")
    asked_again = texts(await console.say("li", "好的"))
    assert "没看懂数量" in asked_again and "实盘数量" in asked_again
    assert "账实相符" in texts(await console.say("li", "60"))


async def test_a_redelivered_event_is_handled_once(console: Console) -> None:
    first = await console.say("wang", "库存 雪碧", event_id="evt-1")
    again = await console.client.post(
        "/console/api/messages", json={"user": "wang", "text": "库存 雪碧", "event_id": "evt-1"}
    )
    assert again.status == 202
    assert len(first) == 1
    assert await console.inbox("wang", wait=1) == []


async def test_in_a_group_the_bot_answers_only_when_mentioned(console: Console) -> None:
    for text in ("库存 雪碧", "＠PSIBOT 库存 雪碧"):  # full-width ＠ as Chinese input methods type it
        response = await console.client.post("/console/api/messages", json={"user": "wang", "text": text, "chat": "g1"})
        assert response.status == 202
    await (await console.client.get("/console/api/messages?chat=g1&after=2&wait=5")).json()
    await asyncio.sleep(0.3)
    messages = (await (await console.client.get("/console/api/messages?chat=g1")).json())["messages"]
    out = [m for m in messages if m["direction"] == "out"]
    assert len(out) == 1 and "雪碧" in out[0]["reply"]["title"]


async def test_health_reports_database_and_redis(console: Console) -> None:
    response = await console.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok", "redis": "absent", "platforms": ["console"]}


async def test_a_burst_is_answered_once_each_in_order_with_few_events_in_work(console: Console) -> None:
    """Posted as fast as they are acknowledged: every question answered once, each person's answers in
    the order they asked, and the backlog waits as events (at most MAX_EVENTS_IN_WORK tasks at a time)."""
    people, per_person = ("wang", "li", "zhang"), 12
    products = ("可口可乐 330ml", "雪碧 500ml")
    most_in_work = 0

    def count_in_work() -> None:
        nonlocal most_in_work
        in_work = sum(task.get_name().startswith("psibot-event-") for task in asyncio.all_tasks())
        most_in_work = max(most_in_work, in_work)

    for n in range(per_person):
        for person in people:
            response = await console.client.post(
                "/console/api/messages", json={"user": person, "text": f"库存 {products[n % 2]}"}
            )
            assert response.status == 202
            count_in_work()
    for person in people:
        titles: list[str] = []
        for _ in range(100):
            titles += [record["reply"]["title"] for record in await console.inbox(person, wait=2)]
            count_in_work()
            if len(titles) >= per_person:
                break
        assert titles == [f"库存 · {products[n % 2]}" for n in range(per_person)]
    assert 0 < most_in_work <= MAX_EVENTS_IN_WORK


async def test_names_imported_in_traditional_chinese_are_found_by_simplified_and_pinyin(
    console: Console, db: Database, tmp_path: Path
) -> None:
    """The catalog's search keys are read as chat text is (core.text.normalize): 可口可樂 is found by 可乐."""
    products = tmp_path / "products.csv"
    products.write_text("编码,名称,单位,换算\nT1,可口可樂 2L,瓶,1箱=6瓶\nT2,雪碧 檸檬味,瓶,\n", encoding="utf-8")
    async with db.session() as session:
        await import_products(session, console.world.purchaser, read_table(products))

    pick = card(await console.say("wang", "库存 可乐"))
    assert "找到 3 个商品" in pick["title"]
    chosen = await console.press("wang", pick, "可口可樂 2L")
    assert card(chosen)["title"] == "库存 · 可口可樂 2L" and "暂无库存" in texts(chosen)
    assert card(await console.say("wang", "库存 柠檬"))["title"] == "库存 · 雪碧 檸檬味"
    assert card(await console.say("li", "stock xbnm"))["title"] == "库存 · 雪碧 檸檬味"
    assert card(await console.say("wang", "庫存 檸檬"))["title"] == "库存 · 雪碧 檸檬味"


async def test_stock_asked_as_people_ask_and_a_bare_name_is_a_stock_question(console: Console) -> None:
    assert card(await console.say("wang", "帮我看下雪碧还有多少"))["title"] == "库存 · 雪碧 500ml"
    assert card(await console.say("wang", "门店仓的雪碧还有多少"))["title"] == "库存 · 雪碧 500ml"  # the place left out
    assert card(await console.say("wang", "雪碧"))["title"] == "库存 · 雪碧 500ml"
    assert card(await console.say("wang", "可口可乐"))["title"].startswith("“可口可乐”找到 2 个商品")
    assert "没看懂这句话" in texts(await console.say("wang", "今天天气怎么样"))
    assert "没看懂这句话" in texts(await console.say("wang", "老板在吗"))  # a word of no product is no stock question
