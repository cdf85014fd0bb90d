"""A pick card's row typed as its number: DingTalk shows a card's first 4 buttons and WeCom its first 6, so
the 7th of 8 products could not be chosen there at all."""

from __future__ import annotations

from tests.factories import make_product
from tests.scenario.conftest import Console, card, texts


async def test_a_row_number_picks_on_the_pick_card_last_shown(console: Console) -> None:
    choice = card(await console.say("wang", "库存 可口可乐"))
    assert choice["tables"][0]["columns"] == ["序号", "编码", "名称"]
    assert [row[0] for row in choice["tables"][0]["rows"]] == ["1", "2"]
    assert "回复序号" in choice["note"]
    assert card(await console.say("wang", "2"))["title"] == "库存 · 可口可乐 1.25L"
    assert card(await console.say("wang", "第1个"))["title"] == "库存 · 可口可乐 330ml"  # a stock pick can be asked again
    assert texts(await console.say("wang", "3")) == "请回复 1 到 2 之间的序号，或点卡片上的按钮。"


async def test_a_row_number_goes_on_with_the_order_and_a_pick_is_taken_once(console: Console) -> None:
    choice = card(await console.say("wang", "下单 华联 可口可乐 2箱"))
    assert choice["title"] == "第1行“可口可乐”是哪一个？"
    replies = await console.say("wang", "选一")
    draft = next(r for r in replies if r["type"] == "card" and r["title"].startswith("销售单草稿"))
    assert draft["tables"][0]["rows"][0][:2] == ["可口可乐 330ml", "2箱"]
    assert texts(await console.say("wang", "2")) == "这张卡片已过期，请重新发起。"  # taken once: no second draft


async def test_a_number_alone_with_no_pick_card_waiting_or_while_a_count_waits(console: Console) -> None:
    assert "没看懂" in card(await console.say("li", "2"))["note"]  # nothing to pick: the help card, as before
    card(await console.say("li", "库存 可口可乐"))  # a pick card is shown …
    asked = texts(await console.say("li", "盘点 雪碧"))
    assert "实盘数量" in asked
    assert "账面 5箱，实盘 2瓶" in texts(await console.say("li", "2"))  # … but the count asked last takes the 2


async def test_the_seventh_of_eight_products_is_reached_by_its_number(console: Console, db) -> None:
    async with db.session() as session:
        for n in range(1, 9):
            await make_product(session, f"T00{n}", f"绿茶 {n}00ml", barcode=None)
    choice = card(await console.say("wang", "库存 绿茶"))
    assert len(choice["buttons"]) == 8
    assert card(await console.say("wang", "7"))["title"] == "库存 · 绿茶 700ml"
