"""Sales orders from chat: `下单 华联 可乐 10箱，雪碧 5瓶` → a draft card → 确认 / 修改 / 取消; `发货 SO-…`
(all, or `发货 SO-… 可乐 5箱`) → the order card; `结单 SO-…` or its button closes a partly shipped order.

The draft lives in the key-value store under its card's id (with a TTL), not in the database: an
abandoned draft costs nothing, and a button on an expired card says so. Confirming creates and
confirms the order in one transaction (stock reserved FEFO by core.sales), exactly once per card.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.cards import decided_status, echo, expired_text, new_card_id, pick_card, product_label
from bot.handlers.common import ProductLookup, base_quantity, find_product, narrow_by_units, product_by_id
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, Tone
from bot.outbox import enqueue_card_update, enqueue_for_users
from bot.parser import CloseOrder, ItemText, PlaceOrder, Ship, fold, parse_quantity, split_item, split_items
from bot.turn import Turn
from core.catalog import describe_quantity, find_customer, list_warehouses, unit_factor
from core.documents import (
    SALES_STATUS_ZH,
    OrderLineInput,
    SalesOrder,
    SalesOrderLine,
    SalesOrderStatus,
    price_line,
)
from core.errors import InsufficientStock, InvalidInput, NotFound
from core.lines import order_lines
from core.models import Customer, Product, Role, User, Warehouse
from core.numbering import Clock
from core.quantity import format_money
from core.sales import (
    CLOSING_ROLES,
    SELLING_ROLES,
    ConfirmedOrder,
    close_sales_order,
    confirm_sales_order,
    create_sales_order,
    ship_sales_order,
)
from core.stock import stock_of
from core.users import require_role

DRAFT_TTL_SECONDS = 30 * 60


@dataclass(frozen=True, slots=True)
class DraftLine:
    product_id: int
    quantity: str  # base units, as a Decimal string
    unit: str


@dataclass(frozen=True, slots=True)
class Draft:
    customer_id: int
    customer: str
    warehouse_id: int
    lines: tuple[DraftLine, ...]
    owner_id: int  # who made it: only they may confirm, change or cancel it (a card in a group is seen by all)
    owner: str


def _draft_key(card_id: str) -> str:
    return f"draft:{card_id}"


async def _save_draft(turn: Turn, card_id: str, draft: Draft) -> None:
    await turn.services.store.set(_draft_key(card_id), json.dumps(asdict(draft)), DRAFT_TTL_SECONDS)


async def _load_draft(turn: Turn, card_id: str) -> Draft | None:
    raw = await turn.services.store.get(_draft_key(card_id))
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    if "owner_id" not in data:
        return None  # saved before drafts recorded their maker: answered as expired
    return Draft(
        data["customer_id"], data["customer"], data["warehouse_id"], tuple(DraftLine(**line) for line in data["lines"]),
        data["owner_id"], data["owner"],
    )


async def _draft_for(turn: Turn, card_id: str, doing: str) -> Draft | None:
    """The draft behind a pressed button if the presser made it; otherwise says why not."""
    draft = await _load_draft(turn, card_id)
    if draft is None:
        turn.say(Text(expired_text()))
        return None
    if draft.owner_id != turn.user.id:
        turn.say(Text(f"这是{draft.owner}开的草稿，只有{draft.owner}本人可以{doing}。"))
        return None
    return draft


# ---------------------------------------------------------------- reading what was typed


def _lookup_problem(number: int, item: ItemText, found: ProductLookup) -> str:
    if found.candidates:
        names = "、".join(product_label(p) for p in found.candidates[:5])
        return f"第{number}行“{item.product}”对应多个商品：{names}，请写得更具体些"
    if found.closest:
        return f"第{number}行没有找到“{echo(item.product)}”，是不是：{'、'.join(product_label(p) for p in found.closest)}？"
    return f"第{number}行没有找到“{echo(item.product)}”"


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """A line whose product text fits several products: the person picks one."""

    number: int
    item: ItemText
    candidates: tuple[Product, ...]


async def resolve_lines(
    session: AsyncSession, items: tuple[ItemText, ...], chosen: Mapping[int, int] | None = None
) -> tuple[list[DraftLine], list[str], list[Ambiguous]]:
    """Each typed line → product and base quantity; or a problem named by its line number.

    `chosen` holds the products already picked for ambiguous lines (line number → product id); lines
    still ambiguous are both problems and `Ambiguous` entries, so a caller may offer a choice.
    """
    lines, problems, ambiguous = [], [], []
    for number, item in enumerate(items, start=1):
        if chosen and number in chosen:
            found = ProductLookup(item.product, product=await product_by_id(session, str(chosen[number])))
        else:
            found = await narrow_by_units(session, await find_product(session, item.product), item.quantity)
        if found.product is None:
            problems.append(_lookup_problem(number, item, found))
            if found.candidates:
                ambiguous.append(Ambiguous(number, item, found.candidates))
            continue
        if item.quantity is None:
            example = f"{found.product.name}{found.product.spec} 10{found.product.base_unit}"
            problems.append(
                f"第{number}行的数量“{item.unread}”没看懂（例：{example}）" if item.unread
                else f"第{number}行“{item.product}”缺少数量（例：{example}）"
            )
            continue
        try:
            quantity = await base_quantity(session, found.product, item.quantity)
        except InvalidInput as error:
            problems.append(f"第{number}行：{error.message}")
            continue
        unit = item.quantity.parts[0].unit if len(item.quantity.parts) == 1 else ""
        lines.append(DraftLine(found.product.id or 0, str(quantity), unit))
    return lines, problems, ambiguous


async def _pick_warehouse(session: AsyncSession, lines: list[DraftLine], clock: Clock) -> int:
    """The warehouse that can fill the most lines from stock it could sell today (the first one on a tie)."""
    warehouses = await list_warehouses(session)
    if not warehouses:
        raise NotFound("还没有仓库，请先让经理建仓库")
    filled = {w.id: 0 for w in warehouses}
    for line in lines:
        stock = await stock_of(session, line.product_id, clock=clock)
        for warehouse in stock.warehouses:
            if warehouse.warehouse_id in filled and warehouse.available >= Decimal(line.quantity):
                filled[warehouse.warehouse_id] += 1
    return max(warehouses, key=lambda w: (filled[w.id], -(w.id or 0))).id or 0


# ---------------------------------------------------------------- the draft card


async def line_input(session: AsyncSession, line: DraftLine) -> OrderLineInput:
    """In the unit the person typed when it divides evenly, else in base units."""
    product = await session.get(Product, line.product_id)
    assert product is not None
    quantity = Decimal(line.quantity)
    if line.unit and line.unit != product.base_unit:
        factor = await unit_factor(session, product, line.unit)
        if quantity % factor == 0:
            return OrderLineInput(line.product_id, quantity / factor, line.unit)
    return OrderLineInput(line.product_id, quantity, None)


async def _shortage_text(session: AsyncSession, product: Product, available: Decimal, needed: Decimal) -> str:
    """"怡宝 可用 2箱，缺 1箱": the draft card's note and a refused confirmation say it alike."""
    return (
        f"{product_label(product)} 可用 {await describe_quantity(session, product, available)}，"
        f"缺 {await describe_quantity(session, product, needed - available)}"
    )


async def _draft_card(session: AsyncSession, card_id: str, draft: Draft, clock: Clock) -> Card:
    """The draft with each line's available stock: what the warehouse could sell today, as confirming counts it."""
    rows, shortages, total = [], [], Decimal(0)
    warehouse_name = ""
    for line in draft.lines:
        priced = await price_line(session, await line_input(session, line), "sale_price")
        stock = await stock_of(session, line.product_id, clock=clock)
        here = next((w for w in stock.warehouses if w.warehouse_id == draft.warehouse_id), None)
        available = here.available if here else Decimal(0)
        warehouse_name = warehouse_name or (here.warehouse_name if here else "")
        product = priced.product
        rows.append(
            (
                product_label(product),
                await describe_quantity(session, product, priced.quantity),
                f"{format_money(priced.unit_price)}/{priced.unit}",
                format_money(priced.amount),
                await describe_quantity(session, product, available),
            )
        )
        if available < priced.quantity:
            shortages.append(await _shortage_text(session, product, available, priced.quantity))
        total += priced.amount
    if not warehouse_name:
        warehouse = await session.get(Warehouse, draft.warehouse_id)
        warehouse_name = warehouse.name if warehouse else ""
    value = {"card_id": card_id}
    return Card(
        card_id=card_id,
        title=f"销售单草稿 · {draft.customer}",
        tone=Tone.WARNING if shortages else Tone.INFO,
        fields=(("客户", draft.customer), ("仓库", warehouse_name), ("合计", format_money(total))),
        tables=(Table(("商品", "数量", "单价", "金额", "可用"), tuple(rows)),),
        note=("库存不足：" + "；".join(shortages)) if shortages else "确认后预留库存",
        buttons=(
            Button("确认", "order.confirm", value, ButtonStyle.PRIMARY),
            Button("修改", "order.edit", value),
            Button("取消", "order.cancel", value, ButtonStyle.DANGER),
        ),
    )


async def _propose(
    turn: Turn, customer_text: str, items: tuple[ItemText, ...], chosen: Mapping[int, int] | None = None
) -> None:
    require_role(turn.user, SELLING_ROLES, "下单")
    clock = turn.clock()

    async def build(session: AsyncSession) -> tuple[Card | None, Draft | None, list[str], list[Ambiguous]]:
        customer = await find_customer(session, customer_text)
        lines, problems, ambiguous = await resolve_lines(session, items, chosen)
        if problems or not lines:
            return None, None, problems or ["没有读到商品"], ambiguous
        draft = Draft(
            customer.id or 0, customer.name, await _pick_warehouse(session, lines, clock), tuple(lines),
            turn.user.id or 0, turn.user.name,
        )
        card_id = new_card_id("order")
        return await _draft_card(session, card_id, draft, clock), draft, [], []

    card, draft, problems, ambiguous = await turn.lookup(build)
    if ambiguous and len(ambiguous) == len(problems):
        await _offer_choice(turn, customer_text, items, dict(chosen or {}), ambiguous[0])
        return
    if card is None or draft is None:
        turn.say(Text("这张单还不能开：\n" + "\n".join(problems) + "\n改好后请重新发送。"))
        return
    await _save_draft(turn, card.card_id, draft)
    turn.say(card)


async def _offer_choice(
    turn: Turn, customer: str, items: tuple[ItemText, ...], chosen: dict[int, int], line: Ambiguous
) -> None:
    """`可乐 10箱` fits several products: a card to pick one; the order goes on once picked."""
    card = pick_card(line.item.product, line.candidates, action="order.choose")
    card = Card(
        card.card_id, f"第{line.number}行“{line.item.product}”是哪一个？", card.tone, card.fields, card.tables,
        card.note, card.buttons,
    )
    pending = {
        "customer": customer,
        "items": [f"{item.product} {item.quantity or item.unread}".strip() for item in items],
        "chosen": {str(number): product_id for number, product_id in chosen.items()},
        "line": line.number,
    }
    await turn.services.store.set(_choice_key(card.card_id), json.dumps(pending, ensure_ascii=False), DRAFT_TTL_SECONDS)
    turn.say(card)


def _choice_key(card_id: str) -> str:
    return f"order-choice:{card_id}"


async def choose(turn: Turn, action: CardAction) -> None:
    raw = await turn.services.store.get(_choice_key(action.card_id))
    if raw is None:
        turn.say(Text(expired_text()))
        return
    await turn.services.store.delete(_choice_key(action.card_id))
    pending = json.loads(raw)
    product = await turn.lookup(lambda session: product_by_id(session, action.value.get("product_id", "")))
    chosen = {int(number): product_id for number, product_id in pending["chosen"].items()}
    chosen[pending["line"]] = product.id or 0
    await turn.transact(
        lambda session: enqueue_card_update(
            session,
            Card(action.card_id, f"第{pending['line']}行：{product_label(product)}", Tone.NEUTRAL,
                 status=decided_status("已选", turn.user.name, turn.now())),
            action,
        )
    )
    items = tuple(split_item(text) for text in pending["items"])
    await _propose(turn, pending["customer"], items, chosen)


async def place_order(turn: Turn, command: PlaceOrder) -> None:
    await _propose(turn, command.customer, command.items)


# ---------------------------------------------------------------- the buttons


async def confirm(turn: Turn, action: CardAction) -> None:
    card_id = action.card_id
    draft = await _draft_for(turn, card_id, "确认")
    if draft is None:
        return
    if not await turn.services.store.set_if_absent(f"done:{card_id}", "1", DRAFT_TTL_SECONDS):
        turn.say(Text("这张单已经处理过了。"))
        return
    clock = turn.clock()

    async def work(session: AsyncSession) -> ConfirmedOrder:
        inputs = [await line_input(session, line) for line in draft.lines]
        order = await create_sales_order(
            session, turn.user, customer_id=draft.customer_id, warehouse_id=draft.warehouse_id, lines=inputs,
            clock=clock,
        )
        await session.flush()
        confirmed = await confirm_sales_order(session, turn.user, order.id or 0, clock=clock)
        card = await _draft_card(session, card_id, draft, clock)
        done = _decided(card, f"已确认 {confirmed.number}", turn, f"销售单 {confirmed.number}")
        await enqueue_card_update(session, done, action)
        return confirmed

    try:
        order = await turn.transact(work)
    except InsufficientStock as short:
        await turn.services.store.delete(f"done:{card_id}")
        reason = await turn.lookup(partial(_refused_for_stock, short=short))
        turn.say(Text(f"没有下单，库存不足：{reason}。可以点“修改”调整数量。"))
        return
    except Exception:
        await turn.services.store.delete(f"done:{card_id}")
        raise
    await turn.services.store.delete(_draft_key(card_id))
    turn.say(Text(f"已下单 {order.number}，合计 {format_money(order.total)}，库存已预留。"))


async def _refused_for_stock(session: AsyncSession, short: InsufficientStock) -> str:
    """The product confirming found short, worded as the draft card words a shortage (core gives the
    product, what was available and what the order's lines of it needed)."""
    product = await session.get(Product, short.details["product_id"])
    assert product is not None
    available, needed = short.details["available"], short.details["needed"]
    assert isinstance(available, Decimal) and isinstance(needed, Decimal)
    return await _shortage_text(session, product, available, needed)


def _decided(card: Card, verb: str, turn: Turn, title: str | None = None) -> Card:
    return Card(
        card_id=card.card_id,
        title=title or card.title,
        tone=Tone.NEUTRAL if verb.startswith("已取消") else Tone.SUCCESS,
        fields=card.fields,
        tables=card.tables,
        status=decided_status(verb, turn.user.name, turn.now()),
    )


async def edit(turn: Turn, action: CardAction) -> None:
    draft = await _draft_for(turn, action.card_id, "修改")
    if draft is None:
        return
    await turn.services.conversations.set(turn.origin, {"flow": "order.edit", "card_id": action.card_id})
    turn.say(Text(f"请发新的商品和数量，例如：可乐 10箱，雪碧 5瓶（客户 {draft.customer} 不变）。发“取消”放弃修改。"))


async def continue_edit(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """New lines for the draft being edited; text that is not lines goes to other commands."""
    items = split_items(text)
    if not items or any(item.quantity is None for item in items):
        return False
    old_card_id = state["card_id"]
    draft = await _load_draft(turn, old_card_id)
    await turn.services.conversations.clear(turn.origin)
    if draft is None:
        turn.say(Text(expired_text()))
        return True
    await turn.services.store.delete(_draft_key(old_card_id))
    await _propose(turn, draft.customer, items)
    return True


async def cancel(turn: Turn, action: CardAction) -> None:
    draft = await _draft_for(turn, action.card_id, "取消")
    if draft is None:
        return
    await turn.services.store.delete(_draft_key(action.card_id))

    clock = turn.clock()

    async def work(session: AsyncSession) -> None:
        card = await _draft_card(session, action.card_id, draft, clock)
        await enqueue_card_update(session, _decided(card, "已取消", turn), action)

    await turn.transact(work)


async def start_for_product(turn: Turn, action: CardAction) -> None:
    """The 下单 button on a stock card: ask for the customer and quantity of that product."""
    require_role(turn.user, SELLING_ROLES, "下单")
    product = await turn.lookup(lambda session: product_by_id(session, action.value.get("product_id", "")))
    await turn.services.conversations.set(turn.origin, {"flow": "order.product", "product_id": product.id})
    turn.say(Text(f"给哪个客户下多少 {product.name}？例如：华联 10{product.base_unit}"))


async def continue_for_product(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """`华联 10箱` for the product on the card (folded as commands are: 華聯 finds 华联超市)."""
    customer, _, quantity_text = fold(text).strip().partition(" ")
    quantity = parse_quantity(quantity_text)
    if not customer or quantity is None:
        return False
    await turn.services.conversations.clear(turn.origin)
    product = await turn.lookup(lambda session: product_by_id(session, str(state["product_id"])))
    await _propose(turn, customer, (ItemText(product.sku, quantity),))
    return True


# ---------------------------------------------------------------- shipping and closing


def order_card_id(order_id: int) -> str:
    return f"so:{order_id}"


async def order_card(session: AsyncSession, order: SalesOrder, viewer: User) -> Card:
    """A confirmed order as it stands: ordered, shipped and still open per line; 结单 while partly shipped."""
    customer = await session.get(Customer, order.customer_id)
    rows = []
    for line in await order_lines(session, SalesOrderLine, order.id or 0):
        product = await session.get(Product, line.product_id)
        assert product is not None
        rows.append(
            (
                product_label(product),
                await describe_quantity(session, product, line.quantity),
                await describe_quantity(session, product, line.shipped),
                await describe_quantity(session, product, line.quantity - line.shipped),
            )
        )
    partly = order.status == SalesOrderStatus.PARTIALLY_SHIPPED
    closer = viewer.role in CLOSING_ROLES | {Role.OWNER, Role.ADMIN}
    close_button = Button("结单", "order.close", {"order_id": str(order.id)}, ButtonStyle.DANGER)
    return Card(
        card_id=order_card_id(order.id or 0),
        title=f"销售单 · {order.number}",
        tone=Tone.WARNING if partly else Tone.INFO,
        fields=(
            ("客户", customer.name if customer else ""),
            ("状态", SALES_STATUS_ZH[order.status]),
            ("合计", format_money(order.total)),
        ),
        tables=(Table(("商品", "订购", "已发", "未发"), tuple(rows)),),
        note=f"还有未发的货：继续发“发货 {order.number}”，或点“结单”不再发货（释放预留）" if partly and closer else "",
        buttons=(close_button,) if partly and closer else (),
    )


async def _order_by_number(session: AsyncSession, number: str) -> SalesOrder:
    order = await session.scalar(select(SalesOrder).where(SalesOrder.number == number))
    if order is None:
        raise NotFound(f"没有找到销售单 {number}")
    return order


async def _quantities(
    session: AsyncSession, order: SalesOrder, items: tuple[ItemText, ...]
) -> dict[int, Decimal]:
    """`可乐 5箱` → the order line of that product (the first one still open) → base units."""
    lines = await order_lines(session, SalesOrderLine, order.id or 0)
    quantities: defaultdict[int, Decimal] = defaultdict(Decimal)
    for number, item in enumerate(items, start=1):
        found = await narrow_by_units(session, await find_product(session, item.product), item.quantity)
        products = {p.id for p in ([found.product] if found.product else found.candidates)}
        line = next(
            (line for line in lines
             if line.product_id in products and line.shipped + quantities[line.id or 0] < line.quantity),
            None,
        )
        if line is None:
            raise InvalidInput(f"第{number}行“{item.product}”不在销售单 {order.number} 的未发商品里")
        product = await session.get(Product, line.product_id)
        assert product is not None and item.quantity is not None
        quantities[line.id or 0] += await base_quantity(session, product, item.quantity)
    return dict(quantities)


async def ship(turn: Turn, command: Ship) -> None:
    """`发货 SO-…` ships everything open; `发货 SO-… 可乐 5箱` only that. A partial shipment is told to the
    salesperson with the order card, whose 结单 gives up the rest."""
    clock = turn.clock()

    async def work(session: AsyncSession) -> tuple[str, Card]:
        order = await _order_by_number(session, command.document_no)
        quantities = await _quantities(session, order, command.items) if command.items else None
        shipment = await ship_sales_order(session, turn.user, order.id or 0, quantities=quantities, clock=clock)
        if order.status == SalesOrderStatus.PARTIALLY_SHIPPED and order.salesperson_id != turn.user.id:
            salesperson = await session.get(User, order.salesperson_id)
            if salesperson is not None:
                news = f"销售单 {order.number} 已由 {turn.user.name} 部分发货（{shipment.number}）。"
                await enqueue_for_users(session, [order.salesperson_id], Text(news))
                told = await order_card(session, order, salesperson)
                await enqueue_for_users(session, [order.salesperson_id], told)
        said = f"已发货 {order.number}（出库单 {shipment.number}），金额 {format_money(shipment.amount)}。"
        if order.status == SalesOrderStatus.PARTIALLY_SHIPPED:
            said += "还有未发的货。"
        return said, await order_card(session, order, turn.user)

    said, card = await turn.transact(work)
    turn.say(Text(said))
    turn.say(card)


async def _close(
    turn: Turn, order_id: int | None, number: str, reason: str, action: CardAction | None
) -> None:
    clock = turn.clock()

    async def work(session: AsyncSession) -> str:
        found = await session.get(SalesOrder, order_id) if order_id else await _order_by_number(session, number)
        if found is None:
            raise NotFound("没有找到这张销售单")
        order = await close_sales_order(session, turn.user, found.id or 0, reason=reason, clock=clock)
        card = await order_card(session, order, turn.user)
        status = decided_status("已结单", turn.user.name, turn.now())
        await enqueue_card_update(session, replace(card, tone=Tone.NEUTRAL, status=status), action)
        short = []
        for line in await order_lines(session, SalesOrderLine, order.id or 0):
            if line.shipped < line.quantity:
                product = await session.get(Product, line.product_id)
                assert product is not None
                short.append(f"{product_label(product)} 少发 {await describe_quantity(session, product, line.quantity - line.shipped)}")
        return f"已结单 {order.number}，剩余不再发货，预留已释放：{'；'.join(short)}。"

    turn.say(Text(await turn.transact(work)))


async def close(turn: Turn, command: CloseOrder) -> None:
    """`结单 SO-… [原因]`."""
    await _close(turn, None, command.document_no, command.reason, None)


async def close_pressed(turn: Turn, action: CardAction) -> None:
    """结单 on the order card."""
    try:
        order_id = int(action.value["order_id"])
    except (KeyError, ValueError):
        raise InvalidInput("按钮数据不对，请发“结单 SO-…”") from None
    await _close(turn, order_id, "", "", action)
