"""Purchase requests and their approval: `采购 可乐 200箱 供应商 太古` (a line that fits several products is
picked on a card first, as an order's is), the 批准 / 驳回 card, `待审批`, `入库 PO-…`.

The approval card of a step goes to every person who may decide it, by direct message; its card id
names the order and step, so after a decision the card is replaced for all of them with a status line.
The decision itself is exactly-once in core.approval (the order row is locked; a second press learns
who decided first). The requester is told each decision. `入库 PO-…` receives what is still open; a
lot-tracked line is received into the lot named in chat, asked for line by line (`continue_receive`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import decided_status, echo, packs_text, product_label
from bot.handlers.common import Ambiguous, offer_choice, product_by_id, take_choice
from bot.handlers.orders import DraftLine, credit_requests, line_input, resolve_lines
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, Tone
from bot.outbox import enqueue_card_update, enqueue_for_users
from bot.parser import (
    FREE_TEXT,
    ItemText,
    LotDetails,
    PendingApprovals,
    Receive,
    RequestPurchase,
    fold,
    parse,
    parse_lot_details,
)
from bot.turn import Turn
from core.approval import WaitingFor, decide, pending_approvals, waiting_for
from core.catalog import describe_quantity, find_supplier, list_warehouses, units_of
from core.documents import PURCHASE_STATUS_ZH, PurchaseOrder, PurchaseOrderStatus, ReceiptLine, lock_document
from core.errors import InvalidInput, InvalidState, NotFound
from core.ledger import lot_expiry_conflict
from core.models import Lot, Product, Supplier, User, Warehouse
from core.numbering import Clock
from core.purchasing import (
    PURCHASING_ROLES,
    RECEIVING_ROLES,
    ReceiptLineInput,
    StockAtHand,
    cancel_purchase_order,
    create_purchase_order,
    lines_of,
    receive_purchase_order,
    stock_at_hand,
    submit_purchase_order,
)
from core.quantity import format_money
from core.users import ROLE_NAMES_ZH, require_role


def approval_card_id(order_id: int, step_no: int) -> str:
    return f"po:{order_id}:step:{step_no}"


async def _lines_table(
    session: AsyncSession, order: PurchaseOrder, stock: Mapping[int, StockAtHand], *, as_bought: bool
) -> Table:
    """The order's lines with what to judge each by (`_stock_cells`): quantities as bought (3箱 (72罐)) on the
    requester's draft, as stocked (3箱6罐) for approvers."""
    rows: list[tuple[str, ...]] = []
    for line in await lines_of(session, order.id or 0):
        product = await session.get(Product, line.product_id)
        assert product is not None
        quantity = (
            packs_text(line.unit_quantity, line.unit, line.quantity, product.base_unit) if as_bought
            else await describe_quantity(session, product, line.quantity)
        )
        cells = await _stock_cells(session, product, stock[line.product_id])
        rows.append((product_label(product), quantity, f"{format_money(line.unit_price)}/{line.unit}",
                     format_money(line.amount), *cells))
    return Table(("商品", "数量", "单价", "金额", "在库/可用", "安全/在途"), tuple(rows))


async def _stock_cells(session: AsyncSession, product: Product, here: StockAtHand) -> tuple[str, str]:
    """"4箱4罐/3箱4罐" (在库/可用) and "1箱/2箱" (安全/在途; - for no safety stock set, nothing on the way):
    two narrow columns, as a card on a phone has room for."""
    units = {unit.name: unit.factor for unit in await units_of(session, product.id or 0)}
    on_hand, available, safety, on_order = [
        await describe_quantity(session, product, quantity, units=units)
        for quantity in (here.on_hand, here.available, here.safety_stock, here.on_order)
    ]
    return f"{on_hand}/{available}", f"{safety if here.safety_stock else '-'}/{on_order if here.on_order else '-'}"


async def _order_card(session: AsyncSession, order: PurchaseOrder, waiting: WaitingFor | None, clock: Clock) -> Card:
    """The order as approvers see it, with the stock of its lines as it stands; with 批准 / 驳回 while a step
    waits."""
    supplier = await session.get(Supplier, order.supplier_id)
    warehouse = await session.get(Warehouse, order.warehouse_id)
    requester = await session.get(User, order.requester_id)
    fields = [
        ("申请人", requester.name if requester else ""),
        ("供应商", supplier.name if supplier else ""),
        ("入库仓", warehouse.name if warehouse else ""),
        ("金额", format_money(order.total)),
    ]
    buttons: tuple[Button, ...] = ()
    step_no = 1
    if waiting is not None:
        step_no = waiting.step_no
        fields.append(("审批", f"第 {waiting.step_no}/{waiting.steps} 步 · {ROLE_NAMES_ZH[waiting.role]}"))
        value = {"order_id": str(order.id), "step_no": str(waiting.step_no)}
        buttons = (
            Button("批准", "po.approve", value, ButtonStyle.PRIMARY),
            Button("驳回", "po.reject", value, ButtonStyle.DANGER),
        )
    return Card(
        card_id=approval_card_id(order.id or 0, step_no),
        title=f"采购审批 · {order.number}",
        tone=Tone.WARNING if waiting else Tone.INFO,
        fields=tuple(fields),
        tables=(await _lines_table(session, order, await stock_at_hand(session, order, clock=clock), as_bought=False),),
        note=order.note,
        buttons=buttons,
    )


DRAFT_MEMORY_SECONDS = 30 * 60  # typed words reach a purchase draft as long as an order draft


def draft_card_id(order_id: int) -> str:
    return f"po:{order_id}:draft"


async def draft_card(session: AsyncSession, order: PurchaseOrder, clock: Clock) -> Card:
    """A draft order for its requester, quantities in the units bought (3箱 (72罐)), with the stock its approvers
    will judge it by (as they see it), and 提交审批 / 取消."""
    supplier = await session.get(Supplier, order.supplier_id)
    warehouse = await session.get(Warehouse, order.warehouse_id)
    value = {"order_id": str(order.id)}
    draft = order.status == PurchaseOrderStatus.DRAFT
    return Card(
        card_id=draft_card_id(order.id or 0),
        title=f"采购单草稿 · {order.number}",
        tone=Tone.INFO,
        fields=(
            ("供应商", supplier.name if supplier else ""),
            ("入库仓", warehouse.name if warehouse else ""),
            ("金额", format_money(order.total)),
        ),
        tables=(await _lines_table(session, order, await stock_at_hand(session, order, clock=clock), as_bought=True),),
        note=order.note,
        buttons=(
            Button("提交审批", "po.submit", value, ButtonStyle.PRIMARY),
            Button("取消", "po.cancel", value, ButtonStyle.DANGER),
        ) if draft else (),
        status="" if draft else PURCHASE_STATUS_ZH[order.status],
    )


def _order_of(action: CardAction) -> int:
    try:
        return int(action.value["order_id"])
    except (KeyError, ValueError):
        raise InvalidInput("按钮数据不对，请重新生成采购单") from None


async def submit_draft(turn: Turn, action: CardAction) -> None:
    await _submit(turn, _order_of(action), action)


async def cancel_draft(turn: Turn, action: CardAction) -> None:
    await _cancel(turn, _order_of(action), action)


def _typed_order(card_id: str) -> int:
    """The order of a draft card's id (`draft_card_id`), for its buttons typed."""
    return int(card_id.split(":")[1])


async def submit_typed(turn: Turn, card_id: str) -> None:
    await _submit(turn, _typed_order(card_id), None)


async def cancel_typed(turn: Turn, card_id: str) -> None:
    await _cancel(turn, _typed_order(card_id), None)


async def remember_draft(turn: Turn, order_id: int) -> None:
    """The draft card is the one typed 提交审批 / 取消 act on, in the chat that shows it: this one, or the
    asker's direct chat when it was sent there for its prices (`Turn.say_with_costs`)."""
    origin = turn.origin if turn.shows_costs() else replace(turn.origin, chat_id=turn.origin.sender_id, chat_kind="direct")
    await turn.services.conversations.remember_draft(origin, draft_card_id(order_id), DRAFT_MEMORY_SECONDS)


async def _submit(turn: Turn, order_id: int, action: CardAction | None) -> None:
    """提交审批 on a draft card (`action`: the press; None when typed, the card updated alike): submitted,
    its approvers sent the approval card, the draft card closed."""
    require_role(turn.user, PURCHASING_ROLES, "提交采购单")
    clock = turn.clock()
    costs = turn.shows_costs()

    async def work(session: AsyncSession) -> str:
        order = await submit_purchase_order(session, turn.user, order_id, clock=clock)
        waiting = await send_to_approvers(session, order, clock)
        card = await draft_card(session, order, clock)
        status = decided_status("已提交审批", turn.user.name, turn.now())
        await enqueue_card_update(session, replace(card, tone=Tone.SUCCESS, status=status), action)
        tail = waiting_text(waiting) if waiting else "无需审批"
        amount = f"（{format_money(order.total)}）" if costs else ""
        return f"已提交采购单 {order.number}{amount}，{tail}。"

    turn.say(Text(await turn.transact(work)))


async def _cancel(turn: Turn, order_id: int, action: CardAction | None) -> None:
    """取消 on a draft card cancels the draft only: pressed late or typed after 提交审批, the order stays."""
    require_role(turn.user, PURCHASING_ROLES, "取消采购单")
    clock = turn.clock()

    async def work(session: AsyncSession) -> str:
        held = await lock_document(session, PurchaseOrder, order_id, "采购单")
        if held.status != PurchaseOrderStatus.DRAFT:  # submitted meanwhile: its draft card cancels it no more
            raise InvalidState(
                f"采购单 {held.number} 已不是草稿（{PURCHASE_STATUS_ZH[held.status]}），不能在草稿上取消",
                status=held.status.value,
            )
        order = await cancel_purchase_order(session, turn.user, order_id, reason="草稿作废", clock=clock)
        card = await draft_card(session, order, clock)
        status = decided_status("已取消", turn.user.name, turn.now())
        await enqueue_card_update(session, replace(card, tone=Tone.NEUTRAL, status=status), action)
        return f"已取消采购单 {order.number}。"

    turn.say(Text(await turn.transact(work)))


async def send_to_approvers(session: AsyncSession, order: PurchaseOrder, clock: Clock) -> WaitingFor | None:
    """The current step's card, by direct message, to everyone who may decide it."""
    waiting = await waiting_for(session, order.id or 0)
    if waiting is not None:
        card = await _order_card(session, order, waiting, clock)
        await enqueue_for_users(session, [u.id or 0 for u in waiting.users], card)
    return waiting


def waiting_text(waiting: WaitingFor) -> str:
    names = "、".join(u.name for u in waiting.users) or "（还没有人有这个角色，请联系管理员）"
    return f"等待{ROLE_NAMES_ZH[waiting.role]} {names} 审批（第 {waiting.step_no}/{waiting.steps} 步）"


async def request_purchase(turn: Turn, command: RequestPurchase) -> None:
    await _request(turn, command.items, command.supplier)


async def choose(turn: Turn, action: CardAction) -> None:
    """A product picked for an ambiguous line: the request goes on (`offer_choice`)."""
    picked = await take_choice(turn, "purchase", action)
    if picked is not None:
        await _request(turn, picked.items, picked.context["supplier"], picked.chosen)


async def _request(
    turn: Turn, items: tuple[ItemText, ...], supplier_text: str, chosen: Mapping[int, int] | None = None
) -> None:
    """Submitted for approval; a line that fits several products is asked about on a pick card first, as
    an order's is (the other problems refuse it, line by line)."""
    require_role(turn.user, PURCHASING_ROLES, "提交采购申请")
    clock = turn.clock()
    costs = turn.shows_costs()

    async def read(session: AsyncSession) -> tuple[tuple[ItemText, ...], list[DraftLine], list[str], list[Ambiguous]]:
        if supplier_text:
            await find_supplier(session, supplier_text)  # a wrong name is told before any product is asked about
        return await resolve_lines(session, items, chosen)

    read_items, lines, problems, ambiguous = await turn.lookup(read)
    if await offer_choice(turn, "purchase", problems, ambiguous, read_items, chosen or {}, {"supplier": supplier_text}):
        return
    if problems:
        raise InvalidInput("这张采购单还不能提交：\n" + "\n".join(problems))

    async def work(session: AsyncSession) -> str:
        supplier = await _supplier_for(session, supplier_text, lines[0].product_id)
        warehouses = await list_warehouses(session)
        if not warehouses:
            raise NotFound("还没有仓库，请先让经理建仓库")
        inputs = [await line_input(session, line) for line in lines]
        order = await create_purchase_order(
            session, turn.user, supplier_id=supplier.id or 0, warehouse_id=warehouses[0].id or 0, lines=inputs,
            clock=clock,
        )
        await session.flush()
        await submit_purchase_order(session, turn.user, order.id or 0, clock=clock)
        waiting = await send_to_approvers(session, order, clock)
        tail = waiting_text(waiting) if waiting else "无需审批"
        amount = f"，{format_money(order.total)}" if costs else ""
        return f"已提交采购单 {order.number}（{supplier.name}{amount}），{tail}。"

    turn.say(Text(await turn.transact(work)))


async def _supplier_for(session: AsyncSession, text: str, product_id: int) -> Supplier:
    if text:
        return await find_supplier(session, text)
    product = await session.get(Product, product_id)
    if product is not None and product.preferred_supplier_id is not None:
        supplier = await session.get(Supplier, product.preferred_supplier_id)
        if supplier is not None:
            return supplier
    raise InvalidInput("请写明供应商，例如：采购 可乐 200箱 供应商 太古")


async def start_for_product(turn: Turn, action: CardAction) -> None:
    """The 采购 button on a stock or shortage card: ask how much, from whom."""
    require_role(turn.user, PURCHASING_ROLES, "提交采购申请")
    product = await turn.lookup(lambda session: product_by_id(session, action.value.get("product_id", "")))
    turn.say(Text(f"请发：采购 {product.name} 数量 供应商 名称，例如：采购 {product.name} 100{product.base_unit} 供应商 太古"))


# ---------------------------------------------------------------- decisions


def _step_of(action: CardAction) -> tuple[int, int]:
    try:
        return int(action.value["order_id"]), int(action.value["step_no"])
    except (KeyError, ValueError):
        raise InvalidInput("按钮数据不对，请发“待审批”重新查看") from None


async def approve(turn: Turn, action: CardAction) -> None:
    order_id, step_no = _step_of(action)
    await _decide(turn, action, order_id, step_no, approve=True, comment="")


async def reject(turn: Turn, action: CardAction) -> None:
    """驳回 needs a reason: from the card's input when the platform has one, else asked for in chat."""
    order_id, step_no = _step_of(action)
    reason = action.form.get("reason", "").strip()
    if reason:
        await _decide(turn, action, order_id, step_no, approve=False, comment=reason)
        return
    await turn.services.conversations.set(
        turn.origin, {"flow": "po.reject", "order_id": order_id, "step_no": step_no, "card_id": action.card_id}
    )
    turn.say(Text("请回复驳回理由（发“取消”放弃驳回）。"))


CONFIRMING_WORDS = frozenset({"是", "是的", "对", "确认", "驳回"})


async def continue_reject(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """The reason, while the step still waits; once the card is decided (by a press of mine, or by someone
    else) the question is over and the text is answered as itself."""
    order_id, step_no = int(state["order_id"]), int(state["step_no"])
    waiting = await turn.lookup(lambda session: waiting_for(session, order_id))
    if waiting is None or waiting.step_no != step_no:
        return False
    reason, asked = text.strip(), state.get("asked_about", "")
    if asked and fold(reason).strip() in CONFIRMING_WORDS:
        reason = asked
    elif not isinstance(parse(reason), FREE_TEXT):
        # 库存还够 is a fine reason and a stock query: asked once, never taken either way unannounced.
        if asked:
            return False  # said again: a command after all, and the prompt is over
        await turn.services.conversations.set(turn.origin, {**state, "asked_about": reason})
        turn.say(Text(f"“{echo(reason)}”是驳回理由吗？回复“是”按此驳回；若是要执行这条命令，请再发一次。"))
        return True
    await turn.services.conversations.clear(turn.origin)
    await _decide(turn, None, order_id, step_no, approve=False, comment=reason[:200])
    return True


async def _decide(
    turn: Turn, action: CardAction | None, order_id: int, step_no: int, *, approve: bool, comment: str
) -> None:
    clock = turn.clock()
    verb = "批准" if approve else "驳回"

    async def work(session: AsyncSession) -> None:
        order = await decide(session, turn.user, order_id, approve=approve, comment=comment, step_no=step_no, clock=clock)
        decided = await _order_card(session, order, None, clock)
        status = decided_status(f"已{verb}", turn.user.name, turn.now()) + (f" · 理由：{comment}" if comment else "")
        await enqueue_card_update(
            session,
            Card(
                card_id=approval_card_id(order_id, step_no), title=decided.title,
                tone=Tone.SUCCESS if approve else Tone.DANGER, fields=decided.fields, tables=decided.tables,
                status=status,
            ),
            action,
        )
        news = f"采购单 {order.number} 第 {step_no} 步已由 {turn.user.name} {verb}" + (f"，理由：{comment}" if comment else "")
        if order.status == PurchaseOrderStatus.APPROVED:
            news += "。采购单已批准，可以通知供应商送货。"
        elif order.status == PurchaseOrderStatus.PENDING_APPROVAL:
            waiting = await send_to_approvers(session, order, clock)
            news += f"，{waiting_text(waiting)}。" if waiting else "。"
        else:
            news += "。"
        await enqueue_for_users(session, [order.requester_id], Text(news))

    await turn.transact(work)
    turn.say(Text(f"已{verb}。"))


async def pending(turn: Turn, _command: PendingApprovals) -> None:
    """The approval cards waiting for me, sent again (their updates still reach these copies): purchase
    orders, then sales orders waiting for a credit 特批."""
    clock = turn.clock()

    async def cards(session: AsyncSession) -> tuple[list[Card], list[Card]]:
        mine = [w for w in await pending_approvals(session) if any(u.id == turn.user.id for u in w.users)]
        purchases = []
        for waiting in mine:
            order = await session.get(PurchaseOrder, waiting.order_id)
            assert order is not None
            purchases.append(await _order_card(session, order, waiting, clock))
        return purchases, await credit_requests(session, turn.user)

    purchases, credits = await turn.read(cards)
    if not purchases and not credits:
        turn.say(Text("没有等您审批的单据。"))
        return
    counts = [f"{len(purchases)} 张采购单等您审批"] if purchases else []
    counts += [f"{len(credits)} 张销售单等您特批"] if credits else []
    waiting = "有 " + "，".join(counts)
    turn.say_with_costs(Text(f"{waiting}："), *purchases, *credits, notice=f"{waiting}，含金额，已私信发给您。")


# ---------------------------------------------------------------- receiving


RECEIVE_FLOW = "receive"


@dataclass(frozen=True, slots=True)
class _OpenLine:
    line_id: int
    product_id: int
    label: str  # 可口可乐（330ml） 2箱
    lot_tracked: bool
    shelf_life_days: int | None


_NOT_YET_RECEIVABLE = {
    PurchaseOrderStatus.DRAFT: "还是草稿，提交并批准后才能入库",
    PurchaseOrderStatus.PENDING_APPROVAL: "还在审批中，批准后才能入库",
    PurchaseOrderStatus.REJECTED: "已驳回，不能入库",
}


def _day(moment: datetime | None, clock: Clock) -> str:
    """A document's day as people say it, to follow a status: （12月04日）, with the year when it is not
    this year's; nothing without a day."""
    if moment is None:
        return ""
    day = clock.local(moment).date()
    return f"（{day:%m月%d日}）" if day.year == clock.today().year else f"（{day:%Y年%m月%d日}）"


async def _not_receivable(session: AsyncSession, order: PurchaseOrder, clock: Clock) -> str:
    """Why an order takes no more goods. 已关闭 is the status of an order received in full as well as of one
    closed with goods still missing; the two are told apart here."""
    number = f"采购单 {order.number}"
    if order.status == PurchaseOrderStatus.CLOSED:
        if all(line.received >= line.quantity for line in await lines_of(session, order.id or 0)):
            return f"{number} 已全部入库{_day(order.closed_at, clock)}，没有要再入库的了。"
        return f"{number} 已关闭{_day(order.closed_at, clock)}，没到的货不再入库。"
    if order.status == PurchaseOrderStatus.CANCELLED:
        return f"{number} 已取消{_day(order.closed_at, clock)}，不能入库。"
    return f"{number} {_NOT_YET_RECEIVABLE.get(order.status, PURCHASE_STATUS_ZH[order.status] + '，不能入库')}。"


async def _open_lines(session: AsyncSession, number: str, clock: Clock) -> tuple[PurchaseOrder, list[_OpenLine]]:
    """The order to receive and its lines still open; refused by name when it cannot be received."""
    order = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
    if order is None:
        raise NotFound(f"没有找到采购单 {number}")
    if order.status not in (PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.PARTIALLY_RECEIVED):
        raise InvalidState(await _not_receivable(session, order, clock), status=order.status.value)
    lines = []
    for line in await lines_of(session, order.id or 0):
        if line.received >= line.quantity:
            continue
        product = await session.get(Product, line.product_id)
        assert product is not None
        amount = await describe_quantity(session, product, line.quantity - line.received)
        if line.received:
            ordered, received = [await describe_quantity(session, product, q) for q in (line.quantity, line.received)]
            amount = f"还差 {amount}（订 {ordered}，已收 {received}）"
        lines.append(
            _OpenLine(line.id or 0, product.id or 0, f"{product_label(product)} {amount}", product.lot_tracked,
                      product.shelf_life_days)
        )
    return order, lines


def _lot_problems(details: LotDetails, line: _OpenLine, today: date) -> list[str]:
    """What a lot-tracked line still lacks: dates that do not exist, no expiry to know, or one already past."""
    problems = list(details.problems)
    if problems:
        return problems
    if details.expiry_date is None and not (details.production_date and line.shelf_life_days):
        problems.append("请写到期日" + ("或生产日期" if line.shelf_life_days else "") + "（例：到期 2027-05-01）")
    elif details.production_date and details.expiry_date and details.expiry_date < details.production_date:
        problems.append(f"到期日 {details.expiry_date} 早于生产日期 {details.production_date}")
    if details.production_date and details.production_date > today:
        problems.append(f"生产日期 {details.production_date} 还没到，请核对")
    expiry = _expiry(details, line)
    if expiry is not None and expiry < today and not problems:
        problems.append(f"到期日 {expiry} 已经过了，请核对")
    return problems


def _expiry(details: LotDetails, line: _OpenLine) -> date | None:
    """The expiry date typed, or production date + shelf life."""
    if details.expiry_date or not (details.production_date and line.shelf_life_days):
        return details.expiry_date
    return details.production_date + timedelta(days=line.shelf_life_days)


async def _answer_problems(turn: Turn, details: LotDetails, line: _OpenLine, state: dict[str, Any]) -> list[str]:
    """`_lot_problems`, then whether the lot already holds stock with another expiry date (asked now,
    not refused at the end after every line was answered)."""
    problems = _lot_problems(details, line, turn.now().date())
    if problems:
        return problems
    lot_no = str(_answer(details, state["number"])["lot_no"])
    conflict = await turn.lookup(
        lambda session: lot_expiry_conflict(session, line.product_id, state["warehouse_id"], lot_no, _expiry(details, line))
    )
    return [conflict] if conflict else []


def _question(state: dict[str, Any]) -> str:
    asked = [line for line in state["lines"] if line["lot_tracked"]]
    index = len(state["answers"])
    line = asked[index]
    hint = "批次 L240501 到期 2027-05-01" + (
        f"，或 批次 L240501 生产 2026-05-01（按保质期 {line['shelf_life_days']} 天算到期）" if line["shelf_life_days"] else ""
    )
    return f"{state['number']} 第 {index + 1}/{len(asked)} 个批次商品：{line['label']}\n请回复批次号和日期，例如：{hint}"


async def receive(turn: Turn, command: Receive) -> None:
    """`入库 PO-…`: everything still open is received. Lot-tracked lines need a lot number and dates: typed
    after the number for the first one (`入库 PO-… 批次 L1 到期 2027-05-01`), else asked line by line."""
    require_role(turn.user, RECEIVING_ROLES, "采购入库")
    order, lines = await turn.lookup(lambda session: _open_lines(session, command.document_no, turn.clock()))
    state: dict[str, Any] = {
        "flow": RECEIVE_FLOW, "order_id": order.id, "number": order.number, "warehouse_id": order.warehouse_id,
        "lines": [asdict(line) for line in lines], "answers": {},
    }
    tracked = [line for line in lines if line.lot_tracked]
    if command.rest and tracked:
        details = parse_lot_details(command.rest, turn.now().date())
        problems = await _answer_problems(turn, details, tracked[0], state)
        if problems:
            raise InvalidInput(f"{tracked[0].label}：" + "；".join(problems))
        state["answers"][str(tracked[0].line_id)] = _answer(details, order.number)
    if len(state["answers"]) == len(tracked):
        await _receive_now(turn, state)
        return
    await turn.services.conversations.set(turn.origin, state)
    intro = f"采购单 {order.number} 有 {len(tracked)} 个按批次管理的商品，逐个登记批次（发“取消”放弃入库）。\n"
    turn.say(Text(intro + _question(state)))


def _answer(details: LotDetails, number: str) -> dict[str, str | None]:
    """A lot without a number of its own is named after the order, as before."""
    return {
        "lot_no": details.lot_no or number,
        "production_date": details.production_date.isoformat() if details.production_date else None,
        "expiry_date": details.expiry_date.isoformat() if details.expiry_date else None,
    }


async def continue_receive(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """The lot number and dates of the line asked about."""
    asked = [line for line in state["lines"] if line["lot_tracked"]]
    line = asked[len(state["answers"])]
    details = parse_lot_details(text, turn.now().date())
    problems = await _answer_problems(turn, details, _OpenLine(**line), state)
    if problems:
        turn.say(Text("；".join(problems) + "。\n" + _question(state)))
        return True
    state["answers"][str(line["line_id"])] = _answer(details, state["number"])
    if len(state["answers"]) < len(asked):
        await turn.services.conversations.set(turn.origin, state)
        turn.say(Text(_question(state)))
        return True
    await turn.services.conversations.clear(turn.origin)
    await _receive_now(turn, state)
    return True


async def _receive_now(turn: Turn, state: dict[str, Any]) -> None:
    clock = turn.clock()
    answers: dict[str, dict[str, str | None]] = state["answers"]

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    async def work(session: AsyncSession) -> str:
        order = await session.get(PurchaseOrder, state["order_id"])
        assert order is not None
        rest = order.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
        inputs, said = [], []
        for line in await lines_of(session, order.id or 0):
            if line.received >= line.quantity:
                continue
            lot = answers.get(str(line.id), {"lot_no": "", "production_date": None, "expiry_date": None})
            inputs.append(
                ReceiptLineInput(
                    line.id or 0, line.quantity - line.received, lot["lot_no"] or "",
                    day(lot["production_date"]), day(lot["expiry_date"]),
                )
            )
        receipt = await receive_purchase_order(session, turn.user, order.id or 0, inputs, clock=clock)
        booked_lines = select(ReceiptLine).where(ReceiptLine.receipt_id == receipt.id).order_by(col(ReceiptLine.id))
        for received in await session.scalars(booked_lines):
            product = await session.get(Product, received.product_id)
            booked = await session.get(Lot, received.lot_id)
            assert product is not None and booked is not None
            amount = await describe_quantity(session, product, received.quantity)
            where = (
                f" 批次 {booked.lot_no}" + (f" 到期 {booked.expiry_date}" if booked.expiry_date else "")
                if booked.lot_no else ""
            )
            said.append(f"{product_label(product)} {amount}{where}")
        await enqueue_for_users(
            session, [order.requester_id], Text(f"采购单 {order.number} 已由 {turn.user.name} 入库（{receipt.number}）。")
        )
        head = f"已入库 {order.number}{' 剩余的货' if rest else ''}（入库单 {receipt.number}），共 {len(inputs)} 行"
        if rest and order.status == PurchaseOrderStatus.CLOSED:
            head += "，采购单已全部入库"
        return head + "：\n" + "\n".join(said)

    turn.say(Text(await turn.transact(work)))


async def receivable_for_product(turn: Turn, action: CardAction) -> None:
    """The 入库 button on a stock card: the approved purchase orders that bring this product."""
    product_id = action.value.get("product_id", "")

    async def answer(session: AsyncSession) -> str:
        product = await product_by_id(session, product_id)
        orders = (
            await session.scalars(
                select(PurchaseOrder).where(
                    PurchaseOrder.status.in_([PurchaseOrderStatus.APPROVED, PurchaseOrderStatus.PARTIALLY_RECEIVED])  # type: ignore[attr-defined]
                )
            )
        ).all()
        numbers = [o.number for o in orders if any(line.product_id == product.id for line in await lines_of(session, o.id or 0))]
        if not numbers:
            return f"没有待入库的 {product_label(product)} 采购单。"
        return f"{product_label(product)} 待入库的采购单：{'、'.join(numbers)}。发“入库 {numbers[0]}”即可入库。"

    turn.say(Text(await turn.read(answer)))
