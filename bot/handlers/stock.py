"""Stock questions: `库存 可乐`, `查 6901234567890`, `stock cola`, and the pick card's buttons."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import not_found_text, pick_card, stock_card
from bot.handlers.common import SEARCH_LIMIT, button_product_id, clear_winner, lookup_without_winner
from bot.model import CardAction, Reply, Text
from bot.parser import StockQuery
from bot.turn import Turn
from core.catalog import Ranked, rank_products
from core.gtin import clean_text
from core.numbering import Clock
from core.stock import ProductStock, stock_by_barcode, stock_of


async def stock_query(turn: Turn, command: StockQuery) -> None:
    costs = turn.shows_costs()
    clock = turn.clock()

    async def answer(session: AsyncSession) -> Reply:
        found = await _stock_answer(session, turn, command.query, clock, costs=costs)
        if isinstance(found, Text) and "的" in command.query:
            # 门店的百事可乐: a place or owner before 的 (the card lists every warehouse), unless a name has it
            after = command.query.rsplit("的", 1)[1].strip()
            if after:
                beyond = await _stock_answer(session, turn, after, clock, costs=costs)
                found = found if isinstance(beyond, Text) else beyond
        return found

    turn.say(await turn.lookup(answer))


async def product_named(turn: Turn, text: str) -> bool:
    """A message that is only a product's name (雪碧) answered as `库存 雪碧`; False when no product is
    called so (the text was something else, and gets the help card)."""
    costs = turn.shows_costs()
    clock = turn.clock()

    async def answer(session: AsyncSession) -> Reply | None:
        ranked = await rank_products(session, text, limit=SEARCH_LIMIT)
        if not ranked:
            return None
        return await _stock_answer(session, turn, text, clock, costs=costs, ranked=ranked)

    found = await turn.lookup(answer)
    if found is None:
        return False
    turn.say(found)
    return True


async def _stock_answer(
    session: AsyncSession, turn: Turn, query: str, clock: Clock, *, costs: bool, ranked: Sequence[Ranked] | None = None
) -> Reply:
    """The stock card of the product `query` names, a card to pick from, or the "没有找到" text."""
    stock = await _stock_by_typed_code(session, query, clock)
    if stock is not None:
        return await stock_card(session, turn.user, stock, costs=costs)
    # A clear winner is read with its stock in one statement, without loading it first.
    if ranked is None:
        ranked = await rank_products(session, query, limit=SEARCH_LIMIT)
    winner = clear_winner(ranked)
    if winner is not None:
        return await stock_card(session, turn.user, await stock_of(session, winner, clock=clock), costs=costs)
    found = await lookup_without_winner(session, query, ranked)
    if found.product is not None:
        stock = await stock_of(session, found.product.id or 0, clock=clock)
        return await stock_card(session, turn.user, stock, costs=costs)
    if found.candidates:
        return pick_card(query, found.candidates)
    return Text(not_found_text(query, found.closest))


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
