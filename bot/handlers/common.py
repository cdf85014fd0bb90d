"""What several handlers need: finding the product a person means, and reading their quantities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.parser import QuantityText
from core.catalog import Ranked, closest_names, fold, get_product, products_by_ids, rank_products, unit_factor
from core.errors import InvalidInput
from core.models import Product, ProductUnit
from core.quantity import check_quantity, check_whole

TYPO_SIMILARITY = 0.6  # how close a name must be to be taken for a typo of it
SEARCH_LIMIT = 20  # candidates ranked for a person's words


@dataclass(frozen=True, slots=True)
class ProductLookup:
    """One product found, or the candidates to choose from, or the names that come closest."""

    query: str
    product: Product | None = None
    candidates: tuple[Product, ...] = ()
    closest: tuple[Product, ...] = ()


async def find_product(session: AsyncSession, text: str) -> ProductLookup:
    """Barcode, SKU, name, pinyin initials; a clear winner is taken, else the choice is the person's.

    A typo (`可口可了`) finds nothing by substring; the closest name is taken when it is close enough.
    """
    ranked = await rank_products(session, text, limit=SEARCH_LIMIT)
    winner = clear_winner(ranked)
    if winner is not None:
        return ProductLookup(text, product=await get_product(session, winner))
    return await lookup_without_winner(session, text, ranked)


def clear_winner(ranked: Sequence[Ranked]) -> int | None:
    """The id of the product meant when the search leaves no doubt: the only hit, or the only exact name."""
    if len(ranked) == 1 or (len(ranked) > 1 and ranked[0].score >= 900 > ranked[1].score):
        return ranked[0].product_id
    return None


async def lookup_without_winner(session: AsyncSession, text: str, ranked: Sequence[Ranked]) -> ProductLookup:
    """Without a clear winner: the candidates ranked, else a typo's product, else the closest names."""
    if ranked:
        products = await products_by_ids(session, [hit.product_id for hit in ranked])
        return ProductLookup(text, candidates=tuple(products[hit.product_id] for hit in ranked if hit.product_id in products))
    closest = await closest_names(session, text, limit=3)
    if closest and _similarity(text, closest[0]) >= TYPO_SIMILARITY and (
        len(closest) == 1 or _similarity(text, closest[1]) < _similarity(text, closest[0])
    ):
        return ProductLookup(text, product=closest[0])
    return ProductLookup(text, closest=tuple(closest))


async def narrow_by_units(session: AsyncSession, found: ProductLookup, quantity: QuantityText | None) -> ProductLookup:
    """Candidates kept only if they have every unit the person wrote (`雪碧 5罐`: the can, not the
    bottle); one left is the product. Nothing changes without a written unit, or when none has them."""
    written = {fold(part.unit) for part in quantity.parts if part.unit} if quantity is not None else set()
    if found.product is not None or len(found.candidates) < 2 or not written:
        return found
    ids = [p.id for p in found.candidates]
    rows = await session.execute(
        select(col(ProductUnit.product_id), col(ProductUnit.name)).where(col(ProductUnit.product_id).in_(ids))
    )
    units: dict[int | None, set[str]] = {p.id: {fold(p.base_unit)} for p in found.candidates}
    for product_id, name in rows.all():
        units[product_id].add(fold(name))
    fitting = tuple(p for p in found.candidates if written <= units[p.id])
    if len(fitting) == 1:
        return ProductLookup(found.query, product=fitting[0])
    if fitting and len(fitting) < len(found.candidates):
        return ProductLookup(found.query, candidates=fitting)
    return found


def _similarity(text: str, product: Product) -> float:
    query = fold(text)
    target = product.pinyin_full if query.isascii() else product.name_key
    return SequenceMatcher(None, query, target[: max(len(query) + 2, 1)]).ratio()


def button_product_id(value: str) -> int:
    """The product id a button carries; a tampered or stale value is refused politely."""
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("按钮数据不对，请重新查询") from None


async def product_by_id(session: AsyncSession, value: str) -> Product:
    return await get_product(session, button_product_id(value))


async def base_quantity(
    session: AsyncSession, product: Product, quantity: QuantityText, *, zero_allowed: bool = False
) -> Decimal:
    """`3箱零12罐` → base units of the product; a unit the product does not have is refused by name, and
    so is a quantity the books cannot take (negative, 0 unless counted, beyond the bound, half a can), before
    any work."""
    total = Decimal(0)
    for part in quantity.parts:
        total += part.amount * await unit_factor(session, product, part.unit or None)
    check_quantity(total, unit=product.base_unit, zero_allowed=zero_allowed)
    check_whole(total, product.base_unit, product.name)
    return total
