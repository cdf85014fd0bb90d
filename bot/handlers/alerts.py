"""Near-expiry and low-stock lists on demand (the scheduler pushes the same cards on its own)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import BUYER_ROLES, low_stock_card, near_expiry_card
from bot.model import Reply, Text
from bot.turn import Turn
from core.catalog import list_warehouses, units_by_product
from core.models import Role
from core.purchasing import reorder_suggestions
from core.stock import low_stock, near_expiry
from core.users import require_role

ALERT_VIEWERS = {Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER}


async def expiring(turn: Turn, _command: object = None) -> None:
    require_role(turn.user, ALERT_VIEWERS, "查看临期批次")
    today = turn.now().date()

    async def answer(session: AsyncSession) -> Reply:
        rows = await near_expiry(session, today)
        if not rows:
            return Text("没有临期或过期的批次。")
        return near_expiry_card(rows, today, await units_by_product(session, (row.product_id for row in rows)))

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
