"""Stock questions: `库存 可乐`, `查 6901234567890`, `stock cola`, and the pick card's buttons."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import not_found_text, pick_card, stock_card
from bot.handlers.common import SEARCH_LIMIT, button_product_id, clear_winner, lookup_without_winner
from bot.model import CardAction, Reply, Text
from bot.parser import StockQuery
from bot.turn import Turn
from core.catalog import rank_products
from core.gtin import clean_text
from core.numbering import Clock
from core.stock import ProductStock, stock_by_barcode, stock_of


async def stock_query(turn: Turn, command: StockQuery) -> None:
    costs = turn.shows_costs()
    clock = turn.clock()

    async def answer(session: AsyncSession) -> Reply:
        stock = await _stock_by_typed_code(session, command.query, clock)
        if stock is not None:
            return await stock_card(session, turn.user, stock, costs=costs)
        # A clear winner is read with its stock in one statement, without loading it first.
        ranked = await rank_products(session, command.query, limit=SEARCH_LIMIT)
        winner = clear_winner(ranked)
        if winner is not None:
            return await stock_card(session, turn.user, await stock_of(session, winner, clock=clock), costs=costs)
        found = await lookup_without_winner(session, command.query, ranked)
        if found.product is not None:
            stock = await stock_of(session, found.product.id or 0, clock=clock)
            return await stock_card(session, turn.user, stock, costs=costs)
        if found.candidates:
            return pick_card(command.query, found.candidates)
        return Text(not_found_text(command.query, found.closest))

    turn.say(await turn.lookup(answer))


async def _stock_by_typed_code(session: AsyncSession, text: str, clock: Clock) -> ProductStock | None:
    """A typed number (`查 6901234567890`) is first taken for a barcode: product and stock in one
    statement. Other text goes to the search, which also knows codes of letters (Code 128)."""
    code = clean_text(text)
    if not (code.isascii() and code.isdigit()):
        return None
    return await stock_by_barcode(session, text, clock=clock)


async def pick(turn: Turn, action: CardAction) -> None:
    product_id = button_product_id(action.value.get("product_id", ""))
    costs = turn.shows_costs()
    clock = turn.clock()

    async def answer(session: AsyncSession) -> Reply:
        return await stock_card(session, turn.user, await stock_of(session, product_id, clock=clock), costs=costs)

    turn.say(await turn.lookup(answer))
