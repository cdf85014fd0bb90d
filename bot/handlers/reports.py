"""`今日销售`: today's business in one card; costs, margins and purchase values only where they may be
shown (`Turn.shows_costs`: a direct chat with a role that may see costs, never a group)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import new_card_id, write_off_text
from bot.model import Card, Tone
from bot.turn import Turn
from core.models import Role
from core.quantity import format_money
from core.reports import today_summary
from core.users import require_role

REPORT_VIEWERS = {Role.SALES, Role.MANAGER, Role.PURCHASER, Role.WAREHOUSE}


async def today(turn: Turn, _command: object = None) -> None:
    require_role(turn.user, REPORT_VIEWERS, "查看今日销售")
    clock = turn.clock()
    costs = turn.shows_costs()

    async def card(session: AsyncSession) -> Card:
        summary = await today_summary(session, turn.user, clock=clock)
        fields = [
            ("新订单", f"{summary.orders_created} 张，{format_money(summary.order_value)}"),
            ("发货", f"{summary.shipments} 次"),
            ("销售额", format_money(summary.revenue)),
        ]
        if costs and summary.margin is not None and summary.cost is not None:
            fields += [("成本", format_money(summary.cost)), ("毛利", format_money(summary.margin))]
        received = f"{summary.receipts} 次"
        if costs and summary.received_value is not None:
            received += f"，{format_money(summary.received_value)}"
        fields += [("到货", received), ("收款", format_money(summary.money_in))]
        if costs and summary.money_out is not None:
            fields.append(("付款", format_money(summary.money_out)))
        if summary.write_offs:
            fields.append(("报损", write_off_text(summary, costs=costs)))
        return Card(new_card_id("today"), f"今日销售 · {summary.day:%m月%d日}", Tone.INFO, tuple(fields))

    turn.say(await turn.read(card))
