"""What several handlers need: finding the product a person means (asking which one on a card when
several fit), and reading their quantities."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import decided_status, expired_text, pick_card, product_label
from bot.model import Card, CardAction, Origin, Text, Tone
from bot.outbox import enqueue_card_update
from bot.parser import CHINESE_NUMERALS, ItemText, QuantityText, split_item
from bot.turn import Turn
from core.catalog import Ranked, closest_names, fold, get_product, products_by_ids, rank_products, unit_factor
from core.errors import InvalidInput
from core.models import Product, ProductUnit
from core.quantity import check_quantity, check_whole

TYPO_SIMILARITY = 0.6  # how close a name must be to be taken for a typo of it
SEARCH_LIMIT = 20  # candidates ranked for a person's words
PREFIX_SCORE = 800  # `core.catalog`'s score of a name that begins with the text (900: is the text)


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
    """The id of the product meant when the search leaves no doubt: the only hit, the only exact name, or
    the only name that begins with the text (可口可乐330 for 可口可乐 330ml, whatever 零度可口可乐 330ml holds)."""
    if len(ranked) == 1 or (len(ranked) > 1 and ranked[0].score >= PREFIX_SCORE > ranked[1].score):
        return ranked[0].product_id
    return None


async def lookup_without_winner(session: AsyncSession, text: str, ranked: Sequence[Ranked]) -> ProductLookup:
    """Without a clear winner: the candidates ranked, else a typo's product, else the closest names."""
    if ranked:
        products = await products_by_ids(session, [hit.product_id for hit in ranked])
        return ProductLookup(text, candidates=tuple(products[hit.product_id] for hit in ranked if hit.product_id in products))
    closest = await closest_names(session, text, limit=3)
    if closest and _similarity(text, closest[0]) >= TYPO_SIMILARITY and _same_numbers(text, closest[0]) and (
        len(closest) == 1 or _similarity(text, closest[1]) < _similarity(text, closest[0])
    ):
        return ProductLookup(text, product=closest[0])
    return ProductLookup(text, closest=tuple(closest))


def _same_numbers(text: str, product: Product) -> bool:
    """Every number in the text is one in the product's name and spec: a number names a model or a size
    (小米 13 is not a typo of 小米 14, nor 雪碧 300 of 雪碧 330ml), so a typo is never taken across one."""
    return set(re.findall(r"\d+", fold(text))) <= set(re.findall(r"\d+", product.name_key))


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


async def find_line(
    session: AsyncSession, text: str, quantity: QuantityText | None, chosen: int | None = None
) -> tuple[ProductLookup, QuantityText | None]:
    """The product a line names (narrowed by its units; `chosen`: picked on a card) and its quantity; the
    lookup's `query` is the product text as read.

    A number written right after a Chinese name, in digits or Chinese numerals, is a thing the text cannot
    settle (`QuantityText.glued`): it ends the name when a product's name and spec hold it as a whole number
    (`可口可乐330` for 可口可乐 330ml, `统一` for 统一 冰红茶: then there is no quantity), else it is the quantity
    (`可乐118`, `可乐十二`; `可乐33` is not 可口可乐330ml).
    """
    whole = text + quantity.glued if quantity is not None and quantity.glued else ""
    if chosen is not None:
        product = await product_by_id(session, str(chosen))
        if whole and _holds(product, whole):
            return ProductLookup(whole, product=product), None
        return ProductLookup(text, product=product), quantity
    if whole:
        holding = await _holding(session, whole)
        winner = clear_winner([hit for hit, _ in holding])
        if winner is not None:
            return ProductLookup(whole, product=next(p for hit, p in holding if hit.product_id == winner)), None
        if holding:
            return ProductLookup(whole, candidates=tuple(product for _, product in holding)), None
    return await narrow_by_units(session, await find_product(session, text), quantity), quantity


async def read_lines(session: AsyncSession, items: tuple[ItemText, ...]) -> tuple[ItemText, ...]:
    """The lines of an order, a purchase or a shipment as the catalog settles what their text cannot.

    A space after a bare number ends a line (`可乐 10 雪碧 5`), but the number may be inside a name
    (`iphone 15 pro 2台`, `小米 14 手机 3台`): a line the parser ended so (`ItemText.joins`) is read together
    with the next one when a product's name and spec, or its pinyin, hold the two as one name, as digits glued
    to a name are its end when a product holds them (`find_line`). Otherwise they stay two lines, each looked
    up as any line is: one whose name finds no product is refused by the caller; unless both are pieces of
    one product's name (`_pieces_of_one_name`), read then as the one name typed, which no product holds.

    A 和 / 跟 / 加 / 及 between two lines may begin the second one's name (`ItemText.connector`): it is the name's
    when the catalog ranks the name with it higher (`可乐 10箱和路雪 2盒`: 和路雪 begins a product's name, 路雪 is
    only inside one; `可乐 2箱 和其正 3箱`), else the lines' (`可乐 10箱 和雪碧 5瓶`: no name holds 和雪碧)."""
    lines: list[ItemText] = []
    for item in items:
        if lines and lines[-1].joins:
            joined = _joined(lines[-1], item)
            if await _holding(session, joined.product) or (
                joined.other_product and await _holding(session, joined.other_product)
            ):
                lines[-1] = joined
                continue
            if await _pieces_of_one_name(session, lines[-1].product, item.product):
                lines[-1] = joined  # as one name, which no product holds: refused by name, never booked twice
                continue
        lines.append(item)
    return tuple([await _with_its_connector(session, line) for line in lines])


async def _pieces_of_one_name(session: AsyncSession, first: str, then: str) -> bool:
    """Two lines apart at a bare number that are pieces of one product's name: both find that product alone,
    the second only inside its name (`小米 13 手机 1台` with only 小米 14 手机: 13台 of 小米 and 1台 of 手机 would
    be 14 of a phone nobody asked for). A name that begins a product's (`可口可乐330 10 可口可乐330 5`) is no piece."""
    second = await rank_products(session, then, limit=SEARCH_LIMIT)
    if clear_winner(second) is None or second[0].score >= PREFIX_SCORE:
        return False
    return clear_winner(await rank_products(session, first, limit=SEARCH_LIMIT)) == second[0].product_id


def _joined(first: ItemText, then: ItemText) -> ItemText:
    """Two lines read as one, as typed: `iphone 15` and `pro 2台` → `iphone 15 pro`, 2台."""
    item = split_item(f"{first.joins} {then.joins or then}")
    return replace(item, joins=f"{first.joins} {then.joins}" if then.joins else "", connector=first.connector)


async def _with_its_connector(session: AsyncSession, item: ItemText) -> ItemText:
    """The line with its product text read the way the catalog ranks higher; as read on a tie, unless the other
    way keeps the connector in a name that is found as well (the text then reads as one name)."""
    other = item.other_product
    settled = replace(item, joins="", connector="")
    if not other:
        return settled if item.joins else item
    as_read, other_way = await _best_score(session, item.product), await _best_score(session, other)
    if other_way > as_read or (other_way == as_read > 0 and len(other) > len(item.product)):
        return replace(settled, product=other)
    return settled


async def _best_score(session: AsyncSession, text: str) -> int:
    """How well the catalog's search finds the text: its best hit's score, 0 for none."""
    ranked = await rank_products(session, text, limit=1) if text else []
    return ranked[0].score if ranked else 0


async def _holding(session: AsyncSession, text: str) -> list[tuple[Ranked, Product]]:
    """The products that hold the text (`_holds`), best ranked first."""
    ranked = await rank_products(session, text, limit=SEARCH_LIMIT)
    products = await products_by_ids(session, [hit.product_id for hit in ranked])
    found = [(hit, products[hit.product_id]) for hit in ranked if hit.product_id in products]
    return [(hit, product) for hit, product in found if _holds(product, text)]


def _holds(product: Product, text: str) -> bool:
    """The product's name and spec (or its pinyin: iphone 15 pro, xiaomi 14 shouji) hold the text, and a number
    that ends it is a whole number there (330 in 330ml, 一 in 统一冰红茶; not 十 in 可乐十二)."""
    folded = fold(text)
    last = folded[-1:]
    whole = r"(?!\d)" if last.isdigit() else rf"(?![\d{CHINESE_NUMERALS}])" if last and last in CHINESE_NUMERALS else ""
    pattern = re.compile(re.escape(folded) + whole)
    return any(pattern.search(key) for key in (product.name_key, product.pinyin_full, product.pinyin_initials))


def _similarity(text: str, product: Product) -> float:
    query = fold(text)
    target = product.pinyin_full if query.isascii() else product.name_key
    return SequenceMatcher(None, query, target[: max(len(query) + 2, 1)]).ratio()


def as_typed(word: str, said: str) -> str:
    """A code read from the folded text (`bot.parser.fold`: lower case), as the person wrote it in `said`:
    `批次 L9` is answered about L9, not l9. The last place it stands alone wins (a lot comes after the
    product); `word` itself when it is not found there."""
    spelled = re.finditer(
        rf"(?<![A-Za-z0-9_-]){re.escape(word)}(?![A-Za-z0-9_-])", unicodedata.normalize("NFKC", said), re.IGNORECASE
    )
    return next(reversed([match.group(0) for match in spelled]), word)


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


# ---------------------------------------------------------------- which product a line means

CHOICE_TTL_SECONDS = 30 * 60  # as long as a sales draft lives


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """A line whose product text fits several products: the person picks one."""

    number: int
    item: ItemText
    candidates: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class Picked:
    """A pick card pressed: the lines as typed, the products picked so far (line number → product id),
    and what the command said besides its lines (a customer, a supplier)."""

    items: tuple[ItemText, ...]
    chosen: dict[int, int]
    context: dict[str, str]


def _choice_key(kind: str, card_id: str) -> str:
    return f"{kind}-choice:{card_id}"


async def offer_choice(
    turn: Turn,
    kind: str,
    problems: Sequence[str],
    ambiguous: Sequence[Ambiguous],
    items: tuple[ItemText, ...],
    chosen: Mapping[int, int],
    context: Mapping[str, str],
    *,
    numbered: bool = True,
) -> bool:
    """When picking products is all the lines lack, a card to pick the first ambiguous line's product;
    True when offered. Its buttons run the action `{kind}.choose`, which takes the press with `take_choice`
    and goes on with the command. `numbered`: the command has lines, and the card says which one."""
    if not ambiguous or len(ambiguous) != len(problems):
        return False
    line = ambiguous[0]
    card = pick_card(line.item.product, line.candidates, action=f"{kind}.choose")
    where = f"第{line.number}行" if numbered else ""
    card = replace(card, title=f"{where}“{line.item.product}”是哪一个？")
    pending = {
        "items": [str(item) for item in items],
        "chosen": {str(number): product_id for number, product_id in chosen.items()},
        "line": line.number,
        "numbered": numbered,
        "context": dict(context),
        "owner_id": turn.user.id,
        "owner": turn.user.name,
    }
    await turn.services.store.set(
        _choice_key(kind, card.card_id), json.dumps(pending, ensure_ascii=False), CHOICE_TTL_SECONDS
    )
    turn.say(card)
    return True


async def take_choice(turn: Turn, kind: str, action: CardAction) -> Picked | None:
    """The product pressed, put in its line: the card then shows the pick and serves no more (taken
    once, however many press it). None, said why, when it has expired or is someone else's."""
    key = _choice_key(kind, action.card_id)
    raw = await turn.services.store.get(key)
    pending: dict[str, Any] = json.loads(raw) if raw is not None else {}
    if raw is None or "owner_id" not in pending:  # one saved before picks recorded who asked: as expired
        turn.say(Text(expired_text()))
        return None
    if pending["owner_id"] != turn.user.id:
        turn.say(Text(f"这张卡片是给{pending['owner']}选商品的，只有{pending['owner']}本人可以选。"))
        return None
    product = await turn.lookup(lambda session: product_by_id(session, action.value.get("product_id", "")))
    if not await turn.services.store.delete_if_equals(key, raw):
        turn.say(Text(expired_text()))
        return None
    chosen = {int(number): product_id for number, product_id in pending["chosen"].items()}
    chosen[pending["line"]] = product.id or 0
    picked = Card(
        action.card_id, (f"第{pending['line']}行：" if pending.get("numbered", True) else "") + product_label(product),
        Tone.NEUTRAL,
        status=decided_status("已选", turn.user.name, turn.now()),
    )
    await turn.transact(lambda session: enqueue_card_update(session, picked, action))
    return Picked(tuple(split_item(text) for text in pending["items"]), chosen, pending["context"])


# ---------------------------------------------------------------- cards that book once, by their maker

T = TypeVar("T")
BOOKING = "…"  # a held card's done key while the first press books it


@dataclass(frozen=True, slots=True)
class HeldCards:
    """Cards that book something once, by their maker (报损, 退货, 收款 / 付款): what a card shows is held in
    the store under its id until it is confirmed or cancelled, and a done key makes a second press say what
    was booked (or, while the first press books it, `busy`) instead of booking again."""

    kind: str  # the store keys' prefix
    busy: str  # said to a press while another one books the card
    ttl: float = 30 * 60  # as long as an order draft: the card is for now, not for tomorrow

    async def hold(self, turn: Turn, card_id: str, shown: Any, chat: Origin) -> None:
        """Keep what the card shows (a dataclass), and make it the draft a typed 确认 / 取消 in `chat` acts on."""
        await turn.services.store.set(f"{self.kind}:{card_id}", json.dumps(asdict(shown)), self.ttl)
        await turn.services.conversations.remember_draft(chat, card_id, self.ttl)

    async def held(self, turn: Turn, card_id: str) -> dict[str, Any] | None:
        """What a card not yet booked shows; None, said why, when it was booked, is being booked or expired."""
        done = await turn.services.store.get(f"{self.kind}-done:{card_id}")
        if done is not None:
            turn.say(Text(self.busy if done == BOOKING else done))
            return None
        raw = await turn.services.store.get(f"{self.kind}:{card_id}")
        if raw is None:
            turn.say(Text(expired_text()))
            return None
        data: dict[str, Any] = json.loads(raw)
        return data

    async def book(
        self, turn: Turn, card_id: str, work: Callable[[AsyncSession], Awaitable[T]], answer: Callable[[T], str]
    ) -> T | None:
        """`work` in one transaction, once however many press: None (said why) when another press books it.
        A second press is answered `answer(result)`; a failed booking leaves the card to be pressed again."""
        done_key = f"{self.kind}-done:{card_id}"
        if not await turn.services.store.set_if_absent(done_key, BOOKING, self.ttl):
            turn.say(Text(self.busy))
            return None
        try:
            result = await turn.transact(work)
        except Exception:
            await turn.services.store.delete(done_key)
            raise
        await turn.services.store.set(done_key, answer(result), self.ttl)
        await self.drop(turn, card_id)
        return result

    async def drop(self, turn: Turn, card_id: str) -> None:
        """The card cancelled: nothing held for it any more."""
        await turn.services.store.delete(f"{self.kind}:{card_id}")
