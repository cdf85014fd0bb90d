"""Stock questions: `库存 可乐`, `查 6901234567890`, `stock cola`, and the pick card's buttons."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import not_found_text, pick_card, stock_card
from bot.handlers.common import find_product, product_by_id
from bot.model import CardAction, Reply, Text
from bot.parser import StockQuery
from bot.turn import Turn
from core.stock import stock_of


async def stock_query(turn: Turn, command: StockQuery) -> None:
    async def answer(session: AsyncSession) -> Reply:
        found = await find_product(session, command.query)
        if found.product is not None:
            return await stock_card(session, turn.user, await stock_of(session, found.product.id or 0))
        if found.candidates:
            return pick_card(command.query, found.candidates)
        return Text(not_found_text(command.query, found.closest))

    turn.say(await turn.read(answer))


async def pick(turn: Turn, action: CardAction) -> None:
    async def answer(session: AsyncSession) -> Reply:
        product = await product_by_id(session, action.value.get("product_id", ""))
        return await stock_card(session, turn.user, await stock_of(session, product.id or 0))

    turn.say(await turn.read(answer))
