"""A draft order's buttons typed instead of pressed: 确认 / 修改 / 取消 (confirm / edit / cancel) act on the
person's latest draft card in that chat, with every check a press has."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.scenario.conftest import Console, card, texts

NO_DRAFT = "没有待确认的草稿。要下单请发：下单 华联超市 可乐 10箱，雪碧 5瓶"


def said(replies: list[dict[str, Any]]) -> str:
    return texts([r for r in replies if r["type"] == "text"])


def the_card(replies: list[dict[str, Any]], card_id: str) -> dict[str, Any]:
    return next(r for r in replies if r["type"] == "card" and r["card_id"] == card_id)


@pytest.mark.parametrize("word", ["确认", "confirm"])
async def test_typed_confirm_confirms_the_draft_and_updates_its_card_as_the_button_does(
    console: Console, word: str
) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2箱"))
    replies = await console.say("wang", word)
    assert said(replies).startswith("已下单 SO-") and "库存已预留" in said(replies)
    updated = the_card(replies, draft["card_id"])
    assert updated["buttons"] == [] and updated["status"].startswith("已确认 SO-") and " · 小王 · " in updated["status"]
    assert "已预留: 2箱" in texts(await console.say("li", "库存 雪碧"))

    number = said(replies).split("已下单 ")[1].split("，")[0]
    assert texts(await console.say("wang", word)) == f"这张订单已确认为 {number}。"  # as a second press
    assert texts(await console.press("wang", draft, "确认")) == f"这张订单已确认为 {number}。"
    assert "已预留: 2箱" in texts(await console.say("li", "库存 雪碧"))  # nothing more reserved


async def test_typed_edit_and_cancel_act_as_their_buttons(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    assert texts(await console.say("wang", "修改")).startswith("请发新的商品和数量")
    replies = await console.say("wang", "雪碧 3瓶")
    assert the_card(replies, draft["card_id"])["status"].startswith("已修改，见新草稿 · 小王 · ")
    second = next(r for r in replies if r["type"] == "card" and r["card_id"] != draft["card_id"])

    replies = await console.say("wang", "取消")  # no flow waits: the latest draft is cancelled
    assert said(replies) == "已取消草稿（华联超市）。"
    cancelled = the_card(replies, second["card_id"])
    assert cancelled["status"].startswith("已取消 · 小王") and cancelled["buttons"] == []
    assert texts(await console.say("wang", "确认")) == "这张草稿已取消。"
    assert texts(await console.say("wang", "cancel")) == "这张草稿已取消。"
    assert texts(await console.press("wang", second, "确认")) == "这张草稿已取消。"


async def test_a_typed_confirm_of_an_expired_draft_says_so_as_its_button_does(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draft expires on its own clock; pressing its card later keeps that card the one typed words act on."""
    monkeypatch.setattr("bot.handlers.orders.DRAFT_TTL_SECONDS", 4.0)
    loop = asyncio.get_running_loop()
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    made = loop.time()  # the draft was saved before: it is gone by made + 4
    await asyncio.sleep(1.5)
    await console.press("wang", draft, "修改")  # the card is remembered for 4 seconds more from here
    assert texts(await console.say("wang", "取消")) == "已取消。"
    await asyncio.sleep(max(0.0, made + 4.3 - loop.time()))
    assert texts(await console.say("wang", "确认")) == "这张卡片已过期，请重新发起。"
    assert texts(await console.press("wang", draft, "确认")) == "这张卡片已过期，请重新发起。"


async def test_with_no_draft_typed_words_say_so_briefly(console: Console) -> None:
    assert texts(await console.say("wang", "确认")) == NO_DRAFT
    assert texts(await console.say("wang", "修改")) == NO_DRAFT
    assert texts(await console.say("wang", "edit")) == NO_DRAFT
    assert texts(await console.say("wang", "取消")) == "当前没有进行中的操作。"


async def test_a_flow_waiting_for_an_answer_comes_first(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    stock = card(await console.say("wang", "库存 雪碧"))
    assert "给哪个客户" in texts(await console.press("wang", stock, "下单"))
    assert texts(await console.say("wang", "取消")) == "已取消。"  # the question is cancelled, not the draft
    replies = await console.say("wang", "确认")
    assert said(replies).startswith("已下单 SO-")
    assert the_card(replies, draft["card_id"])["status"].startswith("已确认 SO-")


async def test_a_count_waiting_for_its_quantity_keeps_a_typed_confirm(console: Console) -> None:
    """A manager both sells and counts: 确认 during a count is no quantity, and confirms no draft."""
    draft = card(await console.say("zhang", "下单 华联 雪碧 2瓶"))
    await console.say("zhang", "盘点 雪碧")
    assert "没看懂数量" in texts(await console.say("zhang", "确认"))
    assert texts(await console.say("zhang", "取消")) == "已取消。"
    replies = await console.say("zhang", "确认")
    assert said(replies).startswith("已下单 SO-") and the_card(replies, draft["card_id"])["buttons"] == []


async def test_confirm_typed_while_editing_confirms_the_draft_being_edited_as_it_is(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    await console.press("wang", draft, "修改")
    replies = await console.say("wang", "确认")
    assert said(replies).startswith("已下单 SO-") and "¥8.00" in said(replies)
    assert the_card(replies, draft["card_id"])["status"].startswith("已确认 SO-")
    assert card(await console.say("wang", "雪碧 3瓶"))["title"] == "psibot 可以帮您"  # the edit is over


async def test_the_latest_draft_card_is_the_one_last_made_or_pressed(console: Console) -> None:
    short = card(await console.say("wang", "下单 华联 雪碧 10箱"))  # 5箱 in stock
    fits = card(await console.say("wang", "下单 华联 雪碧 1箱"))
    assert "缺 5箱" in texts(await console.press("wang", short, "确认"))
    assert texts(await console.say("wang", "修改")).startswith("请发新的商品和数量")  # the card just pressed
    replies = await console.say("wang", "雪碧 2箱")
    assert the_card(replies, short["card_id"])["status"].startswith("已修改，见新草稿")
    confirmed = await console.say("wang", "确认")
    assert "¥96.00" in said(confirmed)  # the new draft of 2箱, not the other one of 1箱
    assert said(await console.press("wang", fits, "确认")).startswith("已下单 SO-")  # still open


async def test_an_order_that_made_no_draft_leaves_no_earlier_draft_to_confirm(console: Console) -> None:
    draft = card(await console.say("wang", "下单 华联 雪碧 2瓶"))
    assert "没有找到客户" in texts(await console.say("wang", "下单 沃尔玛 雪碧 2瓶"))
    assert texts(await console.say("wang", "确认")) == NO_DRAFT
    assert card(await console.say("wang", "下单 华联 可口可乐 2箱"))["title"] == "第1行“可口可乐”是哪一个？"
    assert texts(await console.say("wang", "确认")) == NO_DRAFT
    assert said(await console.press("wang", draft, "确认")).startswith("已下单 SO-")  # untouched, still open


async def test_in_a_group_a_typed_confirm_is_the_speakers_own(console: Console) -> None:
    draft = card(await console.in_group("wang", "下单 华联 雪碧 2瓶", chat="g9"))
    assert texts(await console.in_group("zhao", "确认", chat="g9")) == NO_DRAFT  # not 小王's draft
    replies = await console.in_group("wang", "确认", chat="g9")
    assert said(replies).startswith("已下单 SO-")
    assert the_card(replies, draft["card_id"])["status"].startswith("已确认 SO-")

