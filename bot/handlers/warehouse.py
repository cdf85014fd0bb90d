"""Warehouse work from chat: spot counts (`盘点 可乐 118`, lot by lot when there are several) and
transfers (`调拨 可乐 20箱 主仓 到 门店`).

A spot count opens a count of the warehouse, records the lots of one product and finishes it in one
transaction, so only that product's variances are booked; when a full count is already open in the
warehouse, the figures go into it instead and stock changes when that count is finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.cards import not_found_text, product_label
from bot.handlers.common import (
    Ambiguous,
    ProductLookup,
    base_quantity,
    find_line,
    offer_choice,
    product_by_id,
    take_choice,
)
from bot.model import CardAction, Text
from bot.parser import Count, ItemText, Transfer, fold, parse_quantity
from bot.turn import Turn
from core.catalog import describe_quantity, find_warehouse, list_warehouses, units_of
from core.counts import COUNT_ROLES, finish_count, record_count, start_count
from core.documents import CountStatus, StockCount
from core.errors import InvalidInput, NotFound
from core.models import Product, Warehouse
from core.stock import stock_of
from core.transfers import TRANSFER_ROLES, TransferLineInput, transfer_stock
from core.users import require_role


@dataclass(frozen=True, slots=True)
class _LotToCount:
    lot_no: str
    name: str  # how the lot is named in the question: L1（到期 2027-05-01）; "" without a lot number
    book: str  # what the books hold, as a warehouse person says it


async def _named_warehouse(session: AsyncSession, text: str) -> tuple[Warehouse | None, str]:
    """`门店 可乐` → (门店仓, 可乐); the text as it is when its first word names no warehouse."""
    first, _, rest = text.partition(" ")
    if rest:
        try:
            return await find_warehouse(session, first), rest
        except (NotFound, InvalidInput):
            pass
    return None, text


async def _lots_to_count(
    session: AsyncSession, product: Product, warehouse: Warehouse | None
) -> tuple[Warehouse, list[_LotToCount]]:
    """The warehouse (named, or the first holding the product) and the product's lots there."""
    stock = await stock_of(session, product.id or 0)
    if warehouse is None:
        holding = [w.warehouse_id for w in stock.warehouses]
        warehouses = await list_warehouses(session)
        warehouse = next((w for w in warehouses if w.id in holding), warehouses[0] if warehouses else None)
        if warehouse is None:
            raise NotFound("还没有仓库")
    here = next((w for w in stock.warehouses if w.warehouse_id == warehouse.id), None)
    units = {unit.name: unit.factor for unit in await units_of(session, product.id or 0)}
    lots = [
        _LotToCount(
            lot.lot_no,
            lot.lot_no + (f"（到期 {lot.expiry_date}）" if lot.expiry_date else "") if lot.lot_no else "",
            await describe_quantity(session, product, lot.on_hand, units=units),
        )
        for lot in (here.lots if here else ())
    ]
    if not lots:
        if product.lot_tracked:
            raise InvalidInput(f"{product_label(product)} 在{warehouse.name}没有批次，新批次请走入库")
        lots = [_LotToCount("", "", await describe_quantity(session, product, Decimal(0), units=units))]
    return warehouse, lots


async def _pick_or_refuse(turn: Turn, kind: str, found: ProductLookup, item: ItemText, context: dict[str, str]) -> None:
    """Text that fits several products gets a card to pick one, as 下单 and 采购 do (the command goes on
    from `{kind}.choose`); text that fits none is answered with the closest names."""
    if found.candidates:
        ambiguous = Ambiguous(1, item, found.candidates)
        await offer_choice(turn, kind, [found.query], [ambiguous], (item,), {}, context, numbered=False)
        return
    raise InvalidInput(not_found_text(found.query, found.closest))


async def count(turn: Turn, command: Count, chosen: int | None = None) -> None:
    """One lot is counted with the figure typed; several are asked for one by one, because a total cannot
    be split between them (which lot is short is what the count is for). `chosen`: picked on a card."""
    require_role(turn.user, COUNT_ROLES, "盘点")
    named, text = await turn.lookup(lambda session: _named_warehouse(session, command.product))
    found, typed = await turn.lookup(lambda session: find_line(session, text, command.quantity, chosen))
    product = found.product
    if product is None:
        where = {"warehouse": named.name if named else ""}
        await _pick_or_refuse(turn, "count", found, ItemText(text, command.quantity), where)
        return
    warehouse, lots = await turn.lookup(lambda session: _lots_to_count(session, product, named))
    split = ""
    if typed is not None:
        total = await turn.lookup(lambda session: base_quantity(session, product, typed, zero_allowed=True))
        if len(lots) == 1:
            await _book(turn, product.id or 0, warehouse.id or 0, {lots[0].lot_no: str(total)})
            return
        said = await turn.lookup(lambda session: describe_quantity(session, product, total, with_base=True))
        split = f"您报的 {said}是总数，没法分到各批次，"
    place = f"{product_label(product)} 在{warehouse.name}"
    intro = f"{place}有 {len(lots)} 个批次，{split}请逐个批次报数（发“取消”放弃）：\n" if len(lots) > 1 else ""
    await _ask(turn, {
        "flow": "count", "product_id": product.id, "warehouse_id": warehouse.id, "place": place,
        "lots": [[lot.lot_no, lot.name, lot.book] for lot in lots], "counted": {},
    }, intro=intro)


async def count_chosen(turn: Turn, action: CardAction) -> None:
    """A product picked on the card of a count whose text fit several: the count goes on."""
    picked = await take_choice(turn, "count", action)
    if picked is not None:
        item = picked.items[0]
        product = f"{picked.context['warehouse']} {item.product}".strip()
        await count(turn, Count(product, item.quantity), picked.chosen[1])


async def start_from_card(turn: Turn, action: CardAction) -> None:
    """The 盘点 button on a stock card."""
    require_role(turn.user, COUNT_ROLES, "盘点")
    product = await turn.lookup(lambda session: product_by_id(session, action.value.get("product_id", "")))
    await count(turn, Count(product.sku, None))


async def _ask(turn: Turn, state: dict[str, Any], *, refused: str = "", intro: str = "") -> None:
    """The question for the next lot, with where the count stands when there are several; after `refused`,
    why the last answer was not taken."""
    await turn.services.conversations.set(turn.origin, state)
    lots = state["lots"]
    index = len(state["counted"])
    _lot_no, name, book = lots[index]
    if len(lots) == 1:
        lot = f" 批次 {name}" if name else ""
        question = f"请回复 {state['place']}{lot}的实盘数量，账面 {book}（如 118 或 4箱22罐）："
    else:
        question = f"第 {index + 1}/{len(lots)} 个批次 {name or '（无批次号）'}，账面 {book}，实盘多少？（如 118 或 4箱22罐）"
    turn.say(Text(f"{refused}。{question}" if refused else intro + question))


def _unreadable_count(text: str) -> str:
    """Why an answer the parser could not read is refused. A minus sign is read (core refuses the
    negative with its own words); 负 is not, so it is named here the same way."""
    if fold(text).strip().startswith("负"):
        return "数量不能为负数"
    return "没看懂数量，请回复如 5箱 或 60"


async def continue_count(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """A quantity for the lot asked about; an answer that is not one is refused by name and asked again,
    so one slip does not end the count."""
    quantity = parse_quantity(text)
    if quantity is None:
        await _ask(turn, state, refused=_unreadable_count(text))
        return True
    product = await turn.lookup(lambda session: product_by_id(session, str(state["product_id"])))
    try:
        base = await turn.lookup(lambda session: base_quantity(session, product, quantity, zero_allowed=True))
    except InvalidInput as error:  # a unit the product does not have, a negative or huge quantity
        await _ask(turn, state, refused=error.message)
        return True
    lot_no = state["lots"][len(state["counted"])][0]
    state["counted"][lot_no] = str(base)
    if len(state["counted"]) < len(state["lots"]):
        await _ask(turn, state)
        return True
    await turn.services.conversations.clear(turn.origin)
    await _book(turn, state["product_id"], state["warehouse_id"], state["counted"])
    return True


async def _book(turn: Turn, product_id: int, warehouse_id: int, counted: dict[str, str]) -> None:
    clock = turn.clock()

    async def work(session: AsyncSession) -> str:
        product = await session.get(Product, product_id)
        assert product is not None
        before = (await stock_of(session, product_id)).warehouses
        expected = next((w.on_hand for w in before if w.warehouse_id == warehouse_id), Decimal(0))
        open_count = await session.scalar(
            select(StockCount).where(StockCount.warehouse_id == warehouse_id, StockCount.status == CountStatus.OPEN)
        )
        sheet = open_count or await start_count(session, turn.user, warehouse_id=warehouse_id, clock=clock)
        for lot_no, quantity in counted.items():
            await record_count(
                session, turn.user, sheet.id or 0, product_id=product_id, quantity=Decimal(quantity), lot_no=lot_no,
                clock=clock,
            )
        total = sum((Decimal(q) for q in counted.values()), Decimal(0))
        said = f"{product_label(product)}：账面 {await describe_quantity(session, product, expected)}，" \
               f"实盘 {await describe_quantity(session, product, total)}"
        if open_count is not None:
            return f"已记入进行中的盘点 {open_count.number}。{said}；盘点完成时调整库存。"
        await finish_count(session, turn.user, sheet.id or 0, clock=clock)
        difference = total - expected
        if difference == 0:
            return f"盘点 {sheet.number} 完成。{said}，账实相符。"
        sign = "盘盈" if difference > 0 else "盘亏"
        return f"盘点 {sheet.number} 完成。{said}，{sign} {await describe_quantity(session, product, abs(difference))}，库存已调整。"

    turn.say(Text(await turn.transact(work)))


async def transfer(turn: Turn, command: Transfer, chosen: int | None = None) -> None:
    """`调拨 可乐 20箱 主仓 到 门店`; without the source, from the one other warehouse that can spare it.
    `chosen`: the product picked on a card when the text fit several."""
    require_role(turn.user, TRANSFER_ROLES, "调拨")
    clock = turn.clock()
    found, typed = await turn.lookup(lambda session: find_line(session, command.product, command.quantity, chosen))
    product = found.product
    if product is None:
        context = {"source": command.source, "destination": command.destination}
        await _pick_or_refuse(turn, "transfer", found, ItemText(command.product, command.quantity), context)
        return

    async def work(session: AsyncSession) -> str:
        destination = await find_warehouse(session, command.destination)
        named = await find_warehouse(session, command.source) if command.source else None
        if typed is None:  # 调拨 可口可乐330 主仓 到 门店: the digits were the name's
            where = f"{named.name} " if named else ""
            raise InvalidInput(f"请写上调拨数量，例如：调拨 {found.query} 20 {where}到 {destination.name}")
        quantity = await base_quantity(session, product, typed)
        source = named or await _source_for(session, product, quantity, destination)
        moved = await transfer_stock(
            session, turn.user, from_warehouse_id=source.id or 0, to_warehouse_id=destination.id or 0,
            lines=[TransferLineInput(product.id or 0, quantity)], clock=clock,
        )
        amount = await describe_quantity(session, product, quantity)
        return f"已调拨 {moved.number}：{product_label(product)} {amount}，{source.name} → {destination.name}。"

    turn.say(Text(await turn.transact(work)))


async def transfer_chosen(turn: Turn, action: CardAction) -> None:
    """A product picked on the card of a transfer whose text fit several: the transfer goes on."""
    picked = await take_choice(turn, "transfer", action)
    if picked is not None:
        item = picked.items[0]
        if item.quantity is None:  # stored as typed, so it reads back with its quantity
            raise InvalidInput("请重新发送调拨")
        command = Transfer(item.product, item.quantity, picked.context["source"], picked.context["destination"])
        await transfer(turn, command, picked.chosen[1])


async def _source_for(session: AsyncSession, product: Product, quantity: Decimal, destination: Warehouse) -> Warehouse:
    """The warehouse a transfer without a source comes from: the only other one that can spare it."""
    stock = await stock_of(session, product.id or 0)
    spare = [w for w in stock.warehouses if w.warehouse_id != destination.id and w.available >= quantity]
    if len(spare) == 1:
        found = await session.get(Warehouse, spare[0].warehouse_id)
        assert found is not None
        return found
    wanted = await describe_quantity(session, product, quantity)
    if not spare:
        held = "、".join([
            f"{w.warehouse_name} {await describe_quantity(session, product, w.available)}"
            for w in stock.warehouses if w.warehouse_id != destination.id and w.available > 0
        ])
        raise InvalidInput(f"没有别的仓库能调出 {product_label(product)} {wanted}" + (f"（可用：{held}）" if held else ""))
    names = "、".join(w.warehouse_name for w in spare)
    raise InvalidInput(
        f"{names}都有 {product_label(product)} {wanted} 可调，请写明从哪个仓库调出，例如：调拨 {product.name} "
        f"{wanted} {spare[0].warehouse_name} 到 {destination.name}"
    )
