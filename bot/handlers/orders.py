"""Sales orders from chat: `下单 华联 可乐 10箱，雪碧 5瓶` → a draft card → 确认 / 修改 / 取消 (pressed, or typed:
bot.handlers.drafts); `发货 SO-…` (all, or `发货 SO-… 可乐 5箱`) → the order card; `结单 SO-…` or its button
closes a partly shipped order.
Over the customer's credit limit (and short of no stock, which a 特批 cannot fix) the draft card offers 申请特批
(the order waits in the database and its card goes to the managers: 批准特批 / 驳回, decided once in
core.sales; the salesperson may 撤回特批 until then, and their card shows the decision when it is made), or
特批确认 to a manager.

The draft lives in the key-value store under its card's id (with a TTL), not in the database: an
abandoned draft costs nothing, and a button on an expired card says so. Confirming creates and
confirms the order in one transaction (stock reserved FEFO by core.sales), exactly once per card; what
became of a card (`_outcome`) is kept a day longer, so a retried click or a second tab hears it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from bot.cards import decided_status, echo, expired_text, new_card_id, product_label
from bot.handlers.common import (
    Ambiguous,
    ProductLookup,
    base_quantity,
    find_line,
    offer_choice,
    product_by_id,
    read_lines,
    take_choice,
)
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, Tone
from bot.outbox import enqueue_card_update, enqueue_for_users
from bot.parser import (
    CloseOrder,
    ConfirmDraft,
    EditDraft,
    ItemText,
    PlaceOrder,
    Ship,
    fold,
    parse,
    parse_quantity,
    split_items,
)
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
from core.errors import CreditLimitExceeded, InsufficientStock, InvalidInput, NotFound
from core.lines import order_lines
from core.models import Customer, Product, Role, User, Warehouse
from core.numbering import Clock
from core.quantity import format_money
from core.sales import (
    CLOSING_ROLES,
    CREDIT_OVERRIDE_ROLES,
    SELLING_ROLES,
    ConfirmedOrder,
    allow_over_credit,
    awaiting_credit,
    close_sales_order,
    confirm_sales_order,
    create_sales_order,
    credit_approvers,
    over_credit_reason,
    refuse_over_credit,
    ship_sales_order,
    withdraw_credit_request,
)
from core.stock import stock_of
from core.users import has_role, require_role

DRAFT_TTL_SECONDS = 30 * 60
OUTCOME_TTL_SECONDS = 24 * 3600  # as long as platforms redeliver a click
# How long a 特批 request may wait and still be withdrawn from its card, and its card be shown its decision:
# managers may take days, and the order waits in the database however long.
CREDIT_WAIT_SECONDS = 30 * 24 * 3600


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
    credit: str = ""  # why confirming it was refused for credit (core's words): its card then offers a 特批


def _draft_key(card_id: str) -> str:
    return f"draft:{card_id}"


async def _save_draft(turn: Turn, card_id: str, draft: Draft) -> None:
    await turn.services.store.set(_draft_key(card_id), json.dumps(asdict(draft)), DRAFT_TTL_SECONDS)
    await turn.services.conversations.remember_draft(turn.origin, card_id, DRAFT_TTL_SECONDS)


async def _load_draft(turn: Turn, card_id: str) -> Draft | None:
    raw = await turn.services.store.get(_draft_key(card_id))
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    if "owner_id" not in data:
        return None  # saved before drafts recorded their maker: answered as expired
    return Draft(
        data["customer_id"], data["customer"], data["warehouse_id"], tuple(DraftLine(**line) for line in data["lines"]),
        data["owner_id"], data["owner"], data.get("credit", ""),
    )


def _outcome_key(card_id: str) -> str:
    return f"done:{card_id}"


_OUTCOME_TEXT = {
    "working": "这张单正在处理，请稍候。",
    "confirmed": "这张订单已确认为 {number}。",
    "edited": "这张草稿已修改，请在新草稿上操作。",
    "cancelled": "这张草稿已取消。",
    "requested": "这张单已申请特批（{number}），结果会通知您。",
    "approved": "这张单已特批，已下单为 {number}。",
    "rejected": "这张单的特批申请（{number}）已被驳回，没有下单。",
}
CREDIT_OUTCOMES = ("requested", "approved", "rejected")  # a request made from the card, decided or not


async def _outcome(turn: Turn, card_id: str) -> str | None:
    """What became of a draft card, as said to a later press; None while its draft is open."""
    raw = await turn.services.store.get(_outcome_key(card_id))
    if raw is None:
        return None
    kind, _, number = raw.partition(":")
    if kind not in _OUTCOME_TEXT:  # "1": a confirmation's mark before 348c23a, kept 30 minutes, worded as then
        return "这张单已经处理过了。"
    return _OUTCOME_TEXT[kind].format(number=number)


async def _claim(turn: Turn, card_id: str) -> bool:
    """Only one press of a draft's buttons is at work at a time; another hears so."""
    if await turn.services.store.set_if_absent(_outcome_key(card_id), "working", DRAFT_TTL_SECONDS):
        return True
    turn.say(Text(await _outcome(turn, card_id) or _OUTCOME_TEXT["working"]))
    return False


async def _settle(turn: Turn, card_id: str, outcome: str, ttl: float = OUTCOME_TTL_SECONDS) -> None:
    """The draft is over: its presses from now on hear `outcome` (a key of `_OUTCOME_TEXT`, `:number`)."""
    await turn.services.store.set(_outcome_key(card_id), outcome, ttl)
    await turn.services.store.delete(_draft_key(card_id))


async def _draft_for(turn: Turn, card_id: str, doing: str) -> Draft | None:
    """The draft behind a pressed (or typed) button if the presser made it; otherwise says why not. The card
    is then the one a typed 确认 / 修改 / 取消 acts on: 修改 typed after a refused 确认 is for that card."""
    outcome = await _outcome(turn, card_id)
    if outcome is not None:
        turn.say(Text(outcome))
        return None
    draft = await _load_draft(turn, card_id)
    if draft is None:
        turn.say(Text(expired_text()))
        return None
    if draft.owner_id != turn.user.id:
        turn.say(Text(f"这是{draft.owner}开的草稿，只有{draft.owner}本人可以{doing}。"))
        return None
    await turn.services.conversations.remember_draft(turn.origin, card_id, DRAFT_TTL_SECONDS)
    return draft


# ---------------------------------------------------------------- reading what was typed


def _lookup_problem(number: int, item: ItemText, found: ProductLookup) -> str:
    if found.candidates:
        names = "、".join(product_label(p) for p in found.candidates[:5])
        return f"第{number}行“{item.product}”对应多个商品：{names}，请写得更具体些"
    if found.closest:
        return f"第{number}行没有找到“{echo(item.product)}”，是不是：{'、'.join(product_label(p) for p in found.closest)}？"
    return f"第{number}行没有找到“{echo(item.product)}”"


async def resolve_lines(
    session: AsyncSession, items: tuple[ItemText, ...], chosen: Mapping[int, int] | None = None
) -> tuple[tuple[ItemText, ...], list[DraftLine], list[str], list[Ambiguous]]:
    """Each typed line → product and base quantity; or a problem named by its line number.

    The lines are first read as the catalog settles them (`read_lines`): those are returned, numbered as the
    problems are, for a pick card to keep. `chosen` holds the products already picked for ambiguous lines
    (line number → product id); lines still ambiguous are both problems and `Ambiguous` entries, so a caller
    may offer a choice.
    """
    items = await read_lines(session, items)
    lines, problems, ambiguous = [], [], []
    for number, typed in enumerate(items, start=1):
        found, read = await find_line(session, typed.product, typed.quantity, (chosen or {}).get(number))
        item = ItemText(found.query, read, typed.unread)
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
            amount = await base_quantity(session, found.product, item.quantity)
        except InvalidInput as error:
            problems.append(f"第{number}行：{error.message}")
            continue
        unit = item.quantity.parts[0].unit if len(item.quantity.parts) == 1 else ""
        lines.append(DraftLine(found.product.id or 0, str(amount), unit))
    return items, lines, problems, ambiguous


def _needs(lines: Sequence[DraftLine]) -> dict[int, tuple[Decimal, list[int]]]:
    """Product id → what its lines need together (base units) and their line numbers: two lines of one
    product draw on one stock."""
    needs: dict[int, tuple[Decimal, list[int]]] = {}
    for number, line in enumerate(lines, start=1):
        quantity, numbers = needs.get(line.product_id, (Decimal(0), []))
        needs[line.product_id] = (quantity + Decimal(line.quantity), [*numbers, number])
    return needs


async def _pick_warehouse(session: AsyncSession, lines: list[DraftLine], clock: Clock) -> int:
    """The warehouse that can fill the most lines from stock it could sell today (the first one on a tie)."""
    warehouses = await list_warehouses(session)
    if not warehouses:
        raise NotFound("还没有仓库，请先让经理建仓库")
    filled = {w.id: 0 for w in warehouses}
    for product_id, (needed, numbers) in _needs(lines).items():
        stock = await stock_of(session, product_id, clock=clock)
        for warehouse in stock.warehouses:
            if warehouse.warehouse_id in filled and warehouse.available >= needed:
                filled[warehouse.warehouse_id] += len(numbers)
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


async def _shortage_text(
    session: AsyncSession, product: Product, available: Decimal, needed: Decimal, numbers: Sequence[int]
) -> str:
    """"怡宝 可用 2箱，缺 1箱", or "怡宝 第1、3行合计 3箱，可用 2箱，缺 1箱" for a product on several lines
    (`numbers`): the draft card's note and a refused confirmation say it alike."""
    together = (
        f" 第{'、'.join(map(str, numbers))}行合计 {await describe_quantity(session, product, needed)}，"
        if len(numbers) > 1 else " "
    )
    return (
        f"{product_label(product)}{together}可用 {await describe_quantity(session, product, available)}，"
        f"缺 {await describe_quantity(session, product, needed - available)}"
    )


async def _available(session: AsyncSession, draft: Draft, clock: Clock) -> tuple[dict[int, Decimal], str]:
    """Product id → what the draft's warehouse could sell of it today, as confirming counts it; and the
    warehouse's name ("" when it holds none of them)."""
    available: dict[int, Decimal] = {}
    warehouse_name = ""
    for line in draft.lines:
        if line.product_id not in available:
            stock = await stock_of(session, line.product_id, clock=clock)
            here = next((w for w in stock.warehouses if w.warehouse_id == draft.warehouse_id), None)
            available[line.product_id] = here.available if here else Decimal(0)
            warehouse_name = warehouse_name or (here.warehouse_name if here else "")
    return available, warehouse_name


async def _shortages(session: AsyncSession, draft: Draft, available: Mapping[int, Decimal]) -> list[str]:
    """What the draft lacks, product by product (`_shortage_text`, the lines of one product together)."""
    shortages = []
    for product_id, (needed, numbers) in _needs(draft.lines).items():
        if available[product_id] < needed:
            product = await session.get(Product, product_id)
            assert product is not None
            shortages.append(await _shortage_text(session, product, available[product_id], needed, numbers))
    return shortages


async def _short_now(session: AsyncSession, draft: Draft, clock: Clock) -> list[str]:
    return await _shortages(session, draft, (await _available(session, draft, clock))[0])


async def _draft_card(session: AsyncSession, card_id: str, draft: Draft, clock: Clock) -> Card:
    """The draft with each line's available stock: what the warehouse could sell today, as confirming counts
    it, the lines of one product together."""
    rows, total = [], Decimal(0)
    available, warehouse_name = await _available(session, draft, clock)
    for line in draft.lines:
        priced = await price_line(session, await line_input(session, line), "sale_price")
        rows.append(
            (
                product_label(priced.product),
                await describe_quantity(session, priced.product, priced.quantity),
                f"{format_money(priced.unit_price)}/{priced.unit}",
                format_money(priced.amount),
                await describe_quantity(session, priced.product, available[line.product_id]),
            )
        )
        total += priced.amount
    shortages = await _shortages(session, draft, available)
    if not warehouse_name:
        warehouse = await session.get(Warehouse, draft.warehouse_id)
        warehouse_name = warehouse.name if warehouse else ""
    value = {"card_id": card_id}
    notes = [("库存不足：" + "；".join(shortages)) if shortages else "", draft.credit]
    first = Button("确认", "order.confirm", value, ButtonStyle.PRIMARY)
    if draft.credit:
        owner = await session.get(User, draft.owner_id)
        first = (
            Button("特批确认", "order.credit_confirm", value, ButtonStyle.PRIMARY)
            if owner is not None and has_role(owner, CREDIT_OVERRIDE_ROLES)
            else Button("申请特批", "order.credit_request", value, ButtonStyle.PRIMARY)
        )
    return Card(
        card_id=card_id,
        title=f"销售单草稿 · {draft.customer}",
        tone=Tone.WARNING if shortages or draft.credit else Tone.INFO,
        fields=(("客户", draft.customer), ("仓库", warehouse_name), ("合计", format_money(total))),
        tables=(Table(("商品", "数量", "单价", "金额", "可用"), tuple(rows)),),
        note="\n".join(note for note in notes if note) or "确认后预留库存",
        buttons=(
            first, Button("修改", "order.edit", value), Button("取消", "order.cancel", value, ButtonStyle.DANGER)
        ),
    )


async def _propose(
    turn: Turn,
    customer_text: str,
    items: tuple[ItemText, ...],
    chosen: Mapping[int, int] | None = None,
    replaces: str = "",
) -> list[str]:
    """A draft card for the lines, or a card to pick the product of an ambiguous line first; otherwise
    the problems, line by line, for the caller to word. `replaces`: the card of the draft being edited,
    closed once the new draft is out."""
    require_role(turn.user, SELLING_ROLES, "下单")
    clock = turn.clock()

    async def build(
        session: AsyncSession,
    ) -> tuple[Card | None, Draft | None, tuple[ItemText, ...], list[str], list[Ambiguous]]:
        customer = await find_customer(session, customer_text)
        read, lines, problems, ambiguous = await resolve_lines(session, items, chosen)
        if problems or not lines:
            return None, None, read, problems or ["没有读到商品"], ambiguous
        draft = Draft(
            customer.id or 0, customer.name, await _pick_warehouse(session, lines, clock), tuple(lines),
            turn.user.id or 0, turn.user.name,
        )
        card_id = new_card_id("order")
        return await _draft_card(session, card_id, draft, clock), draft, read, [], []

    if not replaces:  # a new order: a 确认 typed next is for its draft or for none, never for an older one
        await turn.services.conversations.forget_draft(turn.origin)
    card, draft, read, problems, ambiguous = await turn.lookup(build)
    if await offer_choice(
        turn, "order", problems, ambiguous, read, chosen or {}, {"customer": customer_text, "replaces": replaces}
    ):
        return []
    if card is None or draft is None:
        return problems
    await _save_draft(turn, card.card_id, draft)
    if replaces:
        old = await _load_draft(turn, replaces)
        if old is not None:
            await _close_draft(turn, replaces, old, "已修改，见新草稿", "edited")
    turn.say(card)
    return []


async def _propose_or_refuse(
    turn: Turn,
    customer_text: str,
    items: tuple[ItemText, ...],
    chosen: Mapping[int, int] | None = None,
    replaces: str = "",
) -> None:
    """`_propose`, its problems said as a refusal: the order is sent again once they are put right."""
    problems = await _propose(turn, customer_text, items, chosen, replaces)
    if problems:
        turn.say(Text("这张单还不能开：\n" + "\n".join(problems) + "\n改好后请重新发送。"))


async def choose(turn: Turn, action: CardAction) -> None:
    """A product picked for an ambiguous line: the order goes on (`offer_choice`)."""
    picked = await take_choice(turn, "order", action)
    if picked is not None:
        context = picked.context
        await _propose_or_refuse(turn, context["customer"], picked.items, picked.chosen, context["replaces"])


async def place_order(turn: Turn, command: PlaceOrder) -> None:
    await _propose_or_refuse(turn, command.customer, command.items)


# ---------------------------------------------------------------- the buttons


async def confirm(turn: Turn, action: CardAction) -> None:
    await _confirm(turn, action.card_id, action, over_credit=False)


async def confirm_over_credit(turn: Turn, action: CardAction) -> None:
    """特批确认: a manager's own draft over the customer's credit limit, confirmed allowing the excess."""
    require_role(turn.user, CREDIT_OVERRIDE_ROLES, "特批超信用额度")
    await _confirm(turn, action.card_id, action, over_credit=True)


async def _new_order(session: AsyncSession, turn: Turn, draft: Draft, clock: Clock, note: str = "") -> SalesOrder:
    inputs = [await line_input(session, line) for line in draft.lines]
    order = await create_sales_order(
        session, turn.user, customer_id=draft.customer_id, warehouse_id=draft.warehouse_id, lines=inputs,
        note=note[:200], clock=clock,
    )
    await session.flush()
    return order


async def _confirm(turn: Turn, card_id: str, action: CardAction | None, *, over_credit: bool) -> None:
    """`action`: the press, or None when typed (the card is updated alike, for everyone who sees it)."""
    draft = await _draft_for(turn, card_id, "确认")
    if draft is None:
        return
    if not await _claim(turn, card_id):
        return
    clock = turn.clock()

    async def work(session: AsyncSession) -> ConfirmedOrder:
        order = await _new_order(session, turn, draft, clock)
        confirmed = await confirm_sales_order(
            session, turn.user, order.id or 0, credit_override_by=turn.user if over_credit else None, clock=clock
        )
        card = await _draft_card(session, card_id, draft, clock)
        verb = "已特批确认" if confirmed.credit_override_by else "已确认"
        done = _decided(card, f"{verb} {confirmed.number}", turn, Tone.SUCCESS, f"销售单 {confirmed.number}")
        await enqueue_card_update(session, done, action)
        return confirmed

    try:
        order = await turn.transact(work)
    except InsufficientStock as short:
        await turn.services.store.delete(_outcome_key(card_id))
        lines = [line.product_id for line in draft.lines]
        reason = await turn.lookup(partial(_refused_for_stock, short=short, line_products=lines))
        turn.say(Text(f"没有下单，库存不足：{reason}。可以点“修改”调整数量。"))
        return
    except CreditLimitExceeded as over:
        await turn.services.store.delete(_outcome_key(card_id))
        shortages = await turn.lookup(partial(_short_now, draft=draft, clock=clock))
        if shortages:
            await _refuse_short(turn, card_id, action, draft, shortages, over.message)
        else:
            await _offer_credit(turn, card_id, action, replace(draft, credit=over.message))
        return
    except Exception:
        await turn.services.store.delete(_outcome_key(card_id))
        raise
    await _settle(turn, card_id, f"confirmed:{order.number}")
    allowed = "（特批）" if order.credit_override_by else ""
    turn.say(Text(f"已下单 {order.number}{allowed}，合计 {format_money(order.total)}，库存已预留。"))


async def _refused_for_stock(session: AsyncSession, short: InsufficientStock, line_products: Sequence[int]) -> str:
    """The product confirming found short, worded as the draft card words a shortage (core gives the
    product, what was available and what the order's lines of it needed; `line_products`, the product of
    each line, tell its line numbers)."""
    product = await session.get(Product, short.details["product_id"])
    assert product is not None
    available, needed = short.details["available"], short.details["needed"]
    assert isinstance(available, Decimal) and isinstance(needed, Decimal)
    numbers = [number for number, product_id in enumerate(line_products, start=1) if product_id == product.id]
    return await _shortage_text(session, product, available, needed, numbers)


def _decided(card: Card, verb: str, turn: Turn, tone: Tone, title: str | None = None) -> Card:
    return Card(
        card_id=card.card_id,
        title=title or card.title,
        tone=tone,
        fields=card.fields,
        tables=card.tables,
        status=decided_status(verb, turn.user.name, turn.now()),
    )


# ---------------------------------------------------------------- over the credit limit


async def _offer_credit(turn: Turn, card_id: str, action: CardAction | None, draft: Draft) -> None:
    """Confirming was refused for credit: the draft card now offers the way on, 申请特批 to a salesperson,
    特批确认 to a manager."""
    way = "您可以点“特批确认”直接下单" if has_role(turn.user, CREDIT_OVERRIDE_ROLES) else "可以点“申请特批”请经理批准"
    await _show_refused(turn, card_id, action, draft, f"没有下单：{draft.credit}。{way}，或点“修改”调整数量。")


async def _refuse_short(
    turn: Turn, card_id: str, action: CardAction | None, draft: Draft, shortages: Sequence[str], credit: str
) -> None:
    """Short of stock as well as over the credit limit: a 特批 cannot fix a shortage, so the shortage is said
    first and the card offers no 特批 (it is a normal draft again) until the quantities fit the stock."""
    said = f"没有下单，库存不足：{'；'.join(shortages)}。可以点“修改”调整数量；另外{credit}。"
    await _show_refused(turn, card_id, action, replace(draft, credit=""), said)


async def _show_refused(turn: Turn, card_id: str, action: CardAction | None, draft: Draft, said: str) -> None:
    """`said`, and the card shows the draft as it now stands (with its way on for credit, if any)."""
    await _save_draft(turn, card_id, draft)
    turn.say(Text(said))
    clock = turn.clock()

    async def work(session: AsyncSession) -> None:
        await enqueue_card_update(session, await _draft_card(session, card_id, draft, clock), action)

    await turn.transact(work)


def _credit_card_id(order_id: int) -> str:
    return f"so:{order_id}:credit"


def _requester_key(order_id: int) -> str:
    """The draft card a 特批 request was made from, by the order waiting for it."""
    return f"credit-draft:{order_id}"


async def _credit_card(session: AsyncSession, order: SalesOrder, why: str) -> Card:
    """A draft order over its customer's credit limit as the managers see it, with 批准特批 / 驳回 while it
    waits (sale prices only, as its salesperson saw them)."""
    customer = await session.get(Customer, order.customer_id)
    warehouse = await session.get(Warehouse, order.warehouse_id)
    salesperson = await session.get(User, order.salesperson_id)
    rows = []
    for line in await order_lines(session, SalesOrderLine, order.id or 0):
        product = await session.get(Product, line.product_id)
        assert product is not None
        rows.append(
            (
                product_label(product),
                await describe_quantity(session, product, line.quantity),
                f"{format_money(line.unit_price)}/{line.unit}",
                format_money(line.amount),
            )
        )
    value = {"order_id": str(order.id)}
    waiting = order.status == SalesOrderStatus.DRAFT
    return Card(
        card_id=_credit_card_id(order.id or 0),
        title=f"信用特批 · {order.number}",
        tone=Tone.WARNING,
        fields=(
            ("销售", salesperson.name if salesperson else ""),
            ("客户", customer.name if customer else ""),
            ("仓库", warehouse.name if warehouse else ""),
            ("合计", format_money(order.total)),
        ),
        tables=(Table(("商品", "数量", "单价", "金额"), tuple(rows)),),
        note="\n".join(part for part in (why, f"申请理由：{order.note}" if order.note else "") if part),
        buttons=(
            Button("批准特批", "order.credit_approve", value, ButtonStyle.PRIMARY),
            Button("驳回", "order.credit_reject", value, ButtonStyle.DANGER),
        ) if waiting else (),
    )


async def credit_requests(session: AsyncSession, viewer: User) -> list[Card]:
    """The 特批 cards waiting for `viewer`'s decision, for `待审批`: as the managers were sent them (their
    card id, so a decision updates every copy), the reason as things stand now."""
    if viewer.id not in {user.id for user in await credit_approvers(session)}:
        return []
    return [
        await _credit_card(session, order, await over_credit_reason(session, order))
        for order in await awaiting_credit(session)
    ]


async def request_credit(turn: Turn, action: CardAction) -> None:
    await _request_credit(turn, action.card_id, action, "")


async def _request_credit(turn: Turn, card_id: str, action: CardAction | None, reason: str) -> None:
    """申请特批 (pressed, or typed with an optional `reason` for the managers): the draft becomes an order
    waiting in the database, and its card goes to the managers; the salesperson's card offers 撤回特批."""
    draft = await _draft_for(turn, card_id, "申请特批")
    if draft is None:
        return
    clock = turn.clock()
    shortages = await turn.lookup(partial(_short_now, draft=draft, clock=clock))
    if shortages:  # stock taken since the card offered the 特批
        await _refuse_short(turn, card_id, action, draft, shortages, draft.credit)
        return
    if not await _claim(turn, card_id):
        return

    async def work(session: AsyncSession) -> tuple[int, str, list[str]]:
        order = await _new_order(session, turn, draft, clock, note=reason)
        approvers = await credit_approvers(session)
        asked = await _credit_card(session, order, draft.credit)
        await enqueue_for_users(session, [u.id or 0 for u in approvers], asked)
        card = await _draft_card(session, card_id, draft, clock)
        withdraw = Button("撤回特批", "order.credit_withdraw", {}, ButtonStyle.DANGER)
        requested = replace(_decided(card, f"已申请特批 {order.number}", turn, Tone.WARNING), buttons=(withdraw,))
        await enqueue_card_update(session, requested, action)
        return order.id or 0, order.number, [u.name for u in approvers]

    try:
        order_id, number, names = await turn.transact(work)
    except Exception:
        await turn.services.store.delete(_outcome_key(card_id))
        raise
    await turn.services.store.set(_requester_key(order_id), card_id, CREDIT_WAIT_SECONDS)
    await _settle(turn, card_id, f"requested:{number}", CREDIT_WAIT_SECONDS)  # its 撤回特批 holds while it waits
    if names:
        turn.say(Text(
            f"已申请特批 {number}，等待 {'、'.join(names)} 特批；批准后就下单并预留库存，结果会通知您。"
            "不需要了可以点“撤回特批”。"
        ))
    else:
        turn.say(Text(f"已申请特批 {number}，但还没有经理可以特批，请联系管理员。"))


async def credit_typed(turn: Turn, card_id: str, reason: str) -> None:
    """申请特批 typed (with an optional reason): the 特批 button of a draft refused for credit, 申请特批 or, to a
    manager, 特批确认."""
    draft = await _draft_for(turn, card_id, "申请特批")
    if draft is None:
        return
    if not draft.credit:
        turn.say(Text("这张草稿没有可申请的特批：只在库存够、仅超出信用额度时才能申请，请先发“确认”。"))
    elif has_role(turn.user, CREDIT_OVERRIDE_ROLES):
        await _confirm(turn, card_id, None, over_credit=True)
    else:
        await _request_credit(turn, card_id, None, reason)


async def withdraw_credit(turn: Turn, action: CardAction) -> None:
    await _withdraw(turn, action.card_id, action)


async def withdraw_typed(turn: Turn, card_id: str) -> None:
    await _withdraw(turn, card_id, None)


async def _withdraw(turn: Turn, card_id: str, action: CardAction | None) -> None:
    """撤回特批 (pressed, or typed: `action` None): the waiting order is cancelled (core.sales, decided once
    with the managers' 特批 and 驳回), their cards say 已撤回, and the salesperson's card is a normal draft
    again, whose 确认 may ask for a 特批 anew."""
    raw = await turn.services.store.get(_outcome_key(card_id))
    kind, _, number = (raw or "").partition(":")
    if kind not in CREDIT_OUTCOMES:  # a decided request is refused by core, which says who decided it
        open_draft = raw is None and await _load_draft(turn, card_id) is not None
        turn.say(Text("这张草稿没有在等特批，不用撤回。" if open_draft else await _outcome(turn, card_id) or expired_text()))
        return
    clock = turn.clock()

    async def work(session: AsyncSession) -> tuple[int, Draft]:
        waiting = await _order_by_number(session, number)
        order = await withdraw_credit_request(session, turn.user, waiting.id or 0, clock=clock)
        managers = await _credit_card(session, order, "")
        status = decided_status("已撤回", turn.user.name, turn.now())
        await enqueue_card_update(session, replace(managers, tone=Tone.NEUTRAL, status=status))
        draft = await _draft_of(session, order)
        await enqueue_card_update(session, await _draft_card(session, card_id, draft, clock), action)
        return order.id or 0, draft

    waiting_id, draft = await turn.transact(work)
    await turn.services.store.delete(_outcome_key(card_id))
    await turn.services.store.delete(_requester_key(waiting_id))
    await _save_draft(turn, card_id, draft)
    turn.say(Text(f"已撤回特批申请 {number}，经理不会再批它。草稿还在：可以点“修改”调整数量，或点“取消”。"))


async def _draft_of(session: AsyncSession, order: SalesOrder) -> Draft:
    """The draft a withdrawn order was made from, as its card showed it."""
    customer = await session.get(Customer, order.customer_id)
    salesperson = await session.get(User, order.salesperson_id)
    lines = [
        DraftLine(line.product_id, str(line.quantity), line.unit)
        for line in await order_lines(session, SalesOrderLine, order.id or 0)
    ]
    return Draft(
        order.customer_id, customer.name if customer else "", order.warehouse_id, tuple(lines),
        order.salesperson_id, salesperson.name if salesperson else "",
    )


def _credit_order_of(action: CardAction) -> int:
    try:
        return int(action.value["order_id"])
    except (KeyError, ValueError):
        raise InvalidInput("按钮数据不对，请让销售重新申请特批") from None


async def _credit_decided(
    session: AsyncSession, turn: Turn, action: CardAction, order: SalesOrder, verb: str, news: str,
    requester_card: str | None,
) -> str:
    """A decision on a 特批: `verb` on the managers' card for all of them, `news` told to the salesperson,
    whose name is returned for the manager's answer. The salesperson's own card (`requester_card`, the draft
    the request was made from) shows the decision too, instead of a 撤回特批 that could only be refused:
    an approved order as confirmed (`_confirm`'s card), a rejected one as not ordered."""
    card = await _credit_card(session, order, "")
    status = decided_status(verb, turn.user.name, turn.now())
    approved = order.status != SalesOrderStatus.CANCELLED
    tone = Tone.SUCCESS if approved else Tone.DANGER
    await enqueue_card_update(session, replace(card, tone=tone, status=status), action)
    if requester_card is not None:
        draft = await _draft_card(session, requester_card, await _draft_of(session, order), turn.clock())
        title = f"销售单 {order.number}" if approved else None
        await enqueue_card_update(session, _decided(draft, f"{verb} {order.number}", turn, tone, title))
    customer = await session.get(Customer, order.customer_id)
    await enqueue_for_users(
        session, [order.salesperson_id], Text(f"销售单 {order.number}（{customer.name if customer else ''}）{news}")
    )
    salesperson = await session.get(User, order.salesperson_id)
    return salesperson.name if salesperson else ""


async def _requester_decided(turn: Turn, order_id: int, requester_card: str | None, outcome: str) -> None:
    """The request's card is over: a later press or typed word on it hears `outcome` (`_OUTCOME_TEXT`)."""
    if requester_card is not None:
        await turn.services.store.set(_outcome_key(requester_card), outcome, OUTCOME_TTL_SECONDS)
    await turn.services.store.delete(_requester_key(order_id))


async def approve_credit(turn: Turn, action: CardAction) -> None:
    """批准特批: the order is confirmed with this manager's override, in one transaction with its news."""
    order_id = _credit_order_of(action)
    clock = turn.clock()
    requester_card = await turn.services.store.get(_requester_key(order_id))

    async def work(session: AsyncSession) -> tuple[str, str]:
        confirmed = await allow_over_credit(session, turn.user, order_id, clock=clock)
        order = await session.get(SalesOrder, order_id)
        assert order is not None
        news = f"已由 {turn.user.name} 特批，已下单，合计 {format_money(confirmed.total)}，库存已预留。"
        salesperson = await _credit_decided(session, turn, action, order, "已特批", news, requester_card)
        return order.number, f"已特批 {order.number}，已下单并预留库存，已通知{salesperson}。"

    try:
        number, said = await turn.transact(work)
    except InsufficientStock as short:  # taken by other orders while this one waited: nothing changes
        reason = await turn.lookup(partial(_short_on_order, order_id=order_id, short=short))
        turn.say(Text(f"没有特批，现在库存不够：{reason}。可以补货后再批准，或点“驳回”。"))
        return
    await _requester_decided(turn, order_id, requester_card, f"approved:{number}")
    turn.say(Text(said))


async def _short_on_order(session: AsyncSession, order_id: int, short: InsufficientStock) -> str:
    lines = await order_lines(session, SalesOrderLine, order_id)
    return await _refused_for_stock(session, short, [line.product_id for line in lines])


async def reject_credit(turn: Turn, action: CardAction) -> None:
    """驳回: the waiting order is cancelled and its salesperson told."""
    order_id = _credit_order_of(action)
    clock = turn.clock()
    requester_card = await turn.services.store.get(_requester_key(order_id))

    async def work(session: AsyncSession) -> tuple[str, str]:
        order = await refuse_over_credit(session, turn.user, order_id, clock=clock)
        news = f"的信用特批被 {turn.user.name} 驳回，没有下单。"
        salesperson = await _credit_decided(session, turn, action, order, "已驳回", news, requester_card)
        return order.number, f"已驳回 {order.number}，已通知{salesperson}。"

    number, said = await turn.transact(work)
    await _requester_decided(turn, order_id, requester_card, f"rejected:{number}")
    turn.say(Text(said))


# ---------------------------------------------------------------- changing and cancelling


async def edit(turn: Turn, action: CardAction) -> None:
    await edit_typed(turn, action.card_id)


async def edit_typed(turn: Turn, card_id: str) -> None:
    draft = await _draft_for(turn, card_id, "修改")
    if draft is None:
        return
    await turn.services.conversations.set(turn.origin, {"flow": "order.edit", "card_id": card_id})
    turn.say(Text(_edit_question(draft)))


def _edit_question(draft: Draft) -> str:
    return f"请发新的商品和数量，例如：可乐 10箱，雪碧 5瓶（客户 {draft.customer} 不变）。发“取消”放弃修改。"


async def continue_edit(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """New lines for the draft being edited. Lines that make no draft are refused by name and asked for
    again, the draft kept, as a count answer is: one slip does not end the edit. A typed 确认 or 修改 is no
    lines: the edit gives way to it, and it acts on this draft (the card last pressed)."""
    if isinstance(parse(text), ConfirmDraft | EditDraft):
        return False
    draft = await _draft_for(turn, state["card_id"], "修改")
    if draft is not None:
        problems = await _propose(turn, draft.customer, split_items(text), replaces=state["card_id"])
        if problems:
            turn.say(Text(f"没改成：{'；'.join(problems)}\n{_edit_question(draft)}"))
            return True
    await turn.services.conversations.clear(turn.origin)
    return True


async def cancel(turn: Turn, action: CardAction) -> None:
    draft = await _draft_for(turn, action.card_id, "取消")
    if draft is not None:
        await _close_draft(turn, action.card_id, draft, "已取消", "cancelled", action)


# ---------------------------------------------------------------- the buttons typed (bot.handlers.drafts)


async def confirm_typed(turn: Turn, card_id: str) -> None:
    await _confirm(turn, card_id, None, over_credit=False)


async def cancel_typed(turn: Turn, card_id: str) -> None:
    """取消 typed: the card's 取消, said in chat too (the card may be far up)."""
    draft = await _draft_for(turn, card_id, "取消")
    if draft is not None:
        turn.say(Text(f"已取消草稿（{draft.customer}）。"))
        await _close_draft(turn, card_id, draft, "已取消", "cancelled")


async def _close_draft(
    turn: Turn, card_id: str, draft: Draft, verb: str, outcome: str, action: CardAction | None = None
) -> None:
    """A draft given up (cancelled, or replaced by its edit): its card shows `verb` instead of buttons."""
    clock = turn.clock()

    async def work(session: AsyncSession) -> None:
        card = await _draft_card(session, card_id, draft, clock)
        await enqueue_card_update(session, _decided(card, verb, turn, Tone.NEUTRAL), action)

    await turn.transact(work)
    await _settle(turn, card_id, outcome)


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
    await _propose_or_refuse(turn, customer, (ItemText(product.sku, quantity),))
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
    for number, typed in enumerate(await read_lines(session, items), start=1):
        found, quantity = await find_line(session, typed.product, typed.quantity)
        products = {p.id for p in ([found.product] if found.product else found.candidates)}
        line = next(
            (line for line in lines
             if line.product_id in products and line.shipped + quantities[line.id or 0] < line.quantity),
            None,
        )
        if line is None:
            raise InvalidInput(f"第{number}行“{echo(found.query)}”不在销售单 {order.number} 的未发商品里")
        if quantity is None:  # 可口可乐330: the digits were the name's
            raise InvalidInput(f"第{number}行“{echo(found.query)}”缺少数量（例：发货 {order.number} {echo(found.query)} 5箱）")
        product = await session.get(Product, line.product_id)
        assert product is not None
        quantities[line.id or 0] += await base_quantity(session, product, quantity)
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
