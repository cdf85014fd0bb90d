"""Cards as each platform receives them: a page of a long near-expiry list fits every platform whole."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from adapters.dingtalk import render as dingtalk
from adapters.feishu import render as feishu
from adapters.wecom import render as wecom
from bot.cards import EXPIRY_PAGE_SIZE, expiry_position, lots_before, near_expiry_card
from core.stock import ExpiringLot

TODAY = date(2027, 1, 10)


def _lots(count: int) -> list[ExpiringLot]:
    """Lots with names, warehouses and lot numbers as long as a shop's get."""
    return [
        ExpiringLot(
            1000 + n, n, f"SKU-{n:06d}", "农夫山泉东方树叶茉莉花茶无糖茶饮料", "500ml×15瓶", "瓶", 1, "城东二号冷链仓库",
            f"LOT-2026-11-{n:06d}", TODAY + timedelta(days=n % 60 - 5), Decimal(14 * 15 + 14), n % 60 - 5, 60,
        )
        for n in range(count)
    ]


def test_a_page_of_a_long_list_fits_each_platform_uncut() -> None:
    lots = sorted(_lots(20_000), key=lambda lot: (lot.expiry_date, lot.lot_id))
    units = {lot.product_id: {"箱": Decimal(15)} for lot in lots}
    card = near_expiry_card(lots, TODAY, units, start=EXPIRY_PAGE_SIZE * 7, list_key="alert-expiry:0123456789abcdef")
    assert len(card.tables[0].rows) == EXPIRY_PAGE_SIZE
    assert [b.label for b in card.buttons] == ["查看批次", "标记处理", "下一页"]
    assert card.note.startswith("第 8/2000 页，共 20000 个批次，按钮只对本页的批次")

    bodies = wecom.card_bodies(card)  # the whole card as one markdown message, then the template card
    assert [body["msgtype"] for body in bodies] == ["markdown", "template_card"]
    assert len(bodies[0]["markdown"]["content"].encode()) <= wecom.MARKDOWN_BYTES
    assert len(bodies[1]["template_card"]["button_list"]) == len(card.buttons) <= wecom.MAX_BUTTONS

    params = dingtalk.card_params(card)
    assert len(card.buttons) <= dingtalk.MAX_BUTTONS and "截断" not in params["content"]
    assert len(params["content"]) <= dingtalk.CARD_TEXT_LIMIT

    elements = feishu.interactive(card)["elements"]
    assert "未显示" not in str(elements) and len(card.tables[0].rows) <= feishu.MAX_ROWS


def test_the_next_page_starts_after_the_last_lot_shown_however_the_list_moved() -> None:
    lots = _lots(30)
    ordered = sorted(lots, key=lambda lot: (lot.expiry_date, lot.lot_id))
    first = near_expiry_card(ordered, TODAY, {})
    after = next(b for b in first.buttons if b.label == "下一页").value["after"]
    assert after == expiry_position(ordered[EXPIRY_PAGE_SIZE - 1])
    moved = ordered[2:]  # two lots of the first page sold out meanwhile: the next page still starts after it
    assert moved[lots_before(moved, after)] == ordered[EXPIRY_PAGE_SIZE]
