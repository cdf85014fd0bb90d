"""Near-expiry and low-stock lists on demand (the scheduler pushes the same cards on its own), and the
near-expiry card's 下一页.

A near-expiry list is shown a page at a time (`bot.cards.EXPIRY_PAGE_SIZE`), its buttons acting on the lots
of that page. 下一页 shows the page after the last lot shown, of the list as it stands now: every near-expiry
lot for the 临期 command, the lots of the alert for a scheduler's card, whose ids are kept in the
key-value store under its card id (`remember_expiry_list`) for as long as an alert card is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import BUYER_ROLES, EXPIRY_PAGE_SIZE, lots_before, low_stock_card, near_expiry_card
from bot.kv import KeyValueStore
from bot.model import CardAction, Reply, Text
from bot.turn import Turn
from core.catalog import list_warehouses, units_by_product
from core.errors import InvalidInput
from core.models import Role
from core.purchasing import reorder_suggestions
from core.stock import ExpiringLot, low_stock, near_expiry
from core.users import require_role

ALERT_VIEWERS = {Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER}
EXPIRY_LIST_TTL_SECONDS = 7 * 24 * 3600  # an alert card stays on screen for days


def _list_key(list_key: str) -> str:
    return f"expiry-list:{list_key}"


async def remember_expiry_list(store: KeyValueStore, list_key: str, lot_ids: Iterable[int]) -> None:
    """The lots of a near-expiry alert longer than a page, for its 下一页 (`list_key`: the card's id)."""
    await store.set(_list_key(list_key), ",".join(str(lot_id) for lot_id in lot_ids), EXPIRY_LIST_TTL_SECONDS)


async def _page(session: AsyncSession, rows: Sequence[ExpiringLot], today: date, start: int, list_key: str) -> Reply:
    page = rows[start : start + EXPIRY_PAGE_SIZE]
    units = await units_by_product(session, (row.product_id for row in page))
    return near_expiry_card(rows, today, units, start=start, list_key=list_key)


async def expiring(turn: Turn, _command: object = None) -> None:
    require_role(turn.user, ALERT_VIEWERS, "查看临期批次")
    today = turn.now().date()

    async def answer(session: AsyncSession) -> Reply:
        rows = await near_expiry(session, today)
        if not rows:
            return Text("没有临期或过期的批次。")
        return await _page(session, rows, today, 0, "")

    turn.say(await turn.read(answer))


async def next_page(turn: Turn, action: CardAction) -> None:
    """下一页 of a near-expiry card: the lots after the last one it showed, as they stand now."""
    require_role(turn.user, ALERT_VIEWERS, "查看临期批次")
    today = turn.now().date()
    list_key = action.value.get("list", "")
    kept: set[int] | None = None
    if list_key:
        ids = await turn.services.store.get(_list_key(list_key))
        if ids is None:
            turn.say(Text("这张临期提醒已过期，请发“临期”查看现在的临期批次。"))
            return
        kept = {int(lot_id) for lot_id in ids.split(",") if lot_id}

    async def answer(session: AsyncSession) -> Reply:
        rows = [row for row in await near_expiry(session, today) if kept is None or row.lot_id in kept]
        try:
            start = lots_before(rows, action.value.get("after", ""))
        except ValueError:
            raise InvalidInput("按钮数据不对，请重新发“临期”查看") from None
        if not rows:
            return Text("这张提醒里的批次都已没有库存了。" if kept is not None else "没有临期或过期的批次。")
        if start >= len(rows):
            return Text("后面没有临期批次了。")
        return await _page(session, rows, today, start, list_key)

    turn.say(await turn.read(answer))


async def shortages(turn: Turn, _command: object = None) -> None:
    require_role(turn.user, ALERT_VIEWERS | {Role.SALES}, "查看缺货")

    clock = turn.clock()

    async def answer(session: AsyncSession) -> Reply:
        rows = await low_stock(session, clock=clock)
        if not rows:
            return Text("所有商品都在安全库存以上。")
        units = await units_by_product(session, (row.product_id for row in rows))
        if turn.user.role not in BUYER_ROLES:
            return low_stock_card(rows, turn.user, units)
        warehouses = await list_warehouses(session)
        receiving = warehouses[0].id if warehouses else None  # where a 采购 request is received, too
        return low_stock_card(rows, turn.user, units, await reorder_suggestions(session, clock=clock), receiving)

    turn.say(await turn.read(answer))
