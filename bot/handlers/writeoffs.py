"""报损 from chat: `报损 可乐 5罐 破损`, or the 报损 button of a near-expiry lot.

Nothing leaves the books on the first message: the bot shows what would (which lots, how much, and for
those who may see costs what it is worth) on a card, and only its maker's press books it, choosing the
reason on the card when none was typed. What was shown is what core books (`core.writeoffs`), in one
transaction with the card's update, so a stale card cannot take stock that moved meanwhile. Every booked
write-off is reported to the managers and owners who did not book it, on a card whose 撤销报损 puts the
stock back (typed: `撤销报损 BS-…`), because a loss nobody but its booker sees is a loss nobody checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import decided_status, new_card_id, product_label
from bot.handlers.common import HeldCards, as_typed, base_quantity, find_line
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, TextMessage, Tone
from bot.outbox import enqueue_card_update, enqueue_for_users
from bot.parser import UndoWriteOff, WriteOff
from bot.turn import Turn
from core.catalog import describe_quantity, find_warehouse, get_product
from core.columns import money
from core.documents import WriteOff as WriteOffDocument
from core.errors import InvalidInput, NotFound
from core.ledger import expired
from core.models import ZERO, Lot, Movement, Product, Role, User, Warehouse
from core.quantity import format_money
from core.users import require_role, users_with_roles
from core.writeoffs import (
    REVERSE_ROLES,
    WRITE_OFF_ROLES,
    LotTake,
    plan_write_off,
    reverse_write_off,
    same_lot,
    write_off,
)

REASON_BUTTONS = ("过期", "破损", "变质", "丢失")
HELD = HeldCards("write-off", busy="这张报损正在处理，请稍候。")


@dataclass(frozen=True, slots=True)
class Pending:
    """A shown write-off, kept by its card until its maker confirms or cancels it."""

    product_id: int
    warehouse_id: int
    takes: tuple[tuple[int, str], ...]  # (lot id, base quantity as a Decimal string)
    reason: str  # "": chosen on the card
    owner_id: int
    owner: str

    def lot_takes(self) -> list[LotTake]:
        return [LotTake(lot_id, Decimal(quantity)) for lot_id, quantity in self.takes]


async def _pending_for(turn: Turn, card_id: str, doing: str) -> Pending | None:
    """The write-off behind a pressed (or typed) button if the presser made it, the card then the one typed
    确认报损 / 取消 act on; otherwise says why not."""
    data = await HELD.held(turn, card_id)
    if data is None:
        return None
    pending = Pending(**{**data, "takes": tuple((int(lot), quantity) for lot, quantity in data["takes"])})
    if pending.owner_id != turn.user.id:
        turn.say(Text(f"这是{pending.owner}发起的报损，只有{pending.owner}本人可以{doing}。"))
        return None
    await turn.services.conversations.remember_draft(turn.origin, card_id, HELD.ttl)
    return pending


# ---------------------------------------------------------------- what would leave


async def _place(session: AsyncSession, typed: WriteOff, today: Any) -> tuple[Product, Warehouse, WriteOff]:
    """The product, and the warehouse: named first (`报损 门店 可乐 5`), else the only one it can come from;
    and the command as read (no quantity when its digits were the name's: `报损 可口可乐330`)."""
    text, named = typed.product, None
    first, _, rest = text.partition(" ")
    if rest:
        try:
            named, text = await find_warehouse(session, first), rest
        except (NotFound, InvalidInput):
            named = None
    found, quantity = await find_line(session, text, typed.quantity)
    text, command = found.query, replace(typed, quantity=quantity)
    if found.product is None:
        names = "、".join(product_label(p) for p in (found.candidates or found.closest)[:5])
        raise InvalidInput(f"没有确定要报损哪个商品“{text}”" + (f"，是不是：{names}？" if names else ""))
    product = found.product
    if named is not None:
        return product, named, command
    lots = (await session.scalars(select(Lot).where(col(Lot.product_id) == product.id, col(Lot.on_hand) > 0))).all()
    if command.lot_no is not None:
        lots = [lot for lot in lots if same_lot(lot.lot_no, command.lot_no)]
    elif command.quantity is None:
        lots = [lot for lot in lots if expired(lot.expiry_date, today)]
    warehouse_ids = sorted({lot.warehouse_id for lot in lots})
    what = f"批次 {command.lot_no} 的库存" if command.lot_no else ("过期批次" if command.quantity is None else "库存")
    if not warehouse_ids:
        hint = f"，请写明报损数量，例如：报损 {text} 5" if command.quantity is None and command.lot_no is None else ""
        raise NotFound(f"{product_label(product)} 没有{what}{hint}")
    if len(warehouse_ids) > 1:
        holding = [w.name for w in [await session.get(Warehouse, i) for i in warehouse_ids] if w]
        raise InvalidInput(f"{product_label(product)} 在{'、'.join(holding)}都有{what}，请写明仓库，例如：报损 {holding[0]} {text}"
                           + (f" {command.quantity}" if command.quantity else ""))
    warehouse = await session.get(Warehouse, warehouse_ids[0])
    assert warehouse is not None
    return product, warehouse, command


async def _card(session: AsyncSession, card_id: str, pending: Pending, *, costs: bool) -> Card:
    product = await get_product(session, pending.product_id)
    warehouse = await session.get(Warehouse, pending.warehouse_id)
    rows, total, value = [], ZERO, ZERO
    for take in pending.lot_takes():
        lot = await session.get(Lot, take.lot_id)
        assert lot is not None
        rows.append((lot.lot_no or "（无批次）", f"{lot.expiry_date}" if lot.expiry_date else "-",
                     await describe_quantity(session, product, take.quantity)))
        total += take.quantity
        value += take.quantity * product.avg_cost
    fields = [("仓库", warehouse.name if warehouse else ""), ("数量", await describe_quantity(session, product, total))]
    if pending.reason:
        fields.append(("原因", pending.reason))
    if costs:
        fields.append(("成本", f"约 {format_money(money(value))}（按平均成本）"))
    cancel = Button("取消", "writeoff.cancel", {}, ButtonStyle.DEFAULT)
    if pending.reason:
        buttons: tuple[Button, ...] = (Button("确认报损", "writeoff.confirm", {}, ButtonStyle.DANGER), cancel)
        note = "确认后这些库存从账上减去；如有误，经理可以撤销。"
    else:
        buttons = (*(Button(reason, "writeoff.confirm", {"reason": reason}, ButtonStyle.DANGER)
                     for reason in REASON_BUTTONS), cancel)
        note = "点选报损原因即确认报损；其他原因请重新发：报损 … 原因 …"
    return Card(
        card_id=card_id,
        title=f"报损确认 · {product_label(product)}",
        tone=Tone.WARNING,
        fields=tuple(fields),
        tables=(Table(("批次", "到期", "报损数量"), tuple(rows)),),
        note=note,
        buttons=buttons,
    )


async def _show(turn: Turn, pending: Pending) -> None:
    card_id = new_card_id("writeoff")
    costs = turn.shows_costs()
    card = await turn.lookup(lambda session: _card(session, card_id, pending, costs=costs))
    await HELD.hold(turn, card_id, pending, turn.origin)
    turn.say(card)


async def write_off_command(turn: Turn, command: WriteOff) -> None:
    require_role(turn.user, WRITE_OFF_ROLES, "报损")
    # a new write-off: a 确认 typed next is for its card or for none, never for an older draft
    await turn.services.conversations.forget_draft(turn.origin)
    today = turn.now().date()
    if command.lot_no is not None and isinstance(turn.event, TextMessage):  # matched in any case, named as typed
        command = replace(command, lot_no=as_typed(command.lot_no, turn.event.text))

    async def plan(session: AsyncSession) -> Pending:
        product, warehouse, read = await _place(session, command, today)
        quantity = None if read.quantity is None else await base_quantity(session, product, read.quantity)
        takes = await plan_write_off(session, product, warehouse, quantity=quantity, lot_no=read.lot_no, today=today)
        # Neither a quantity nor a lot: the product's expired lots, whose reason goes without saying.
        reason = read.reason or ("过期" if quantity is None and read.lot_no is None else "")
        return Pending(product.id or 0, warehouse.id or 0, tuple((t.lot_id, str(t.quantity)) for t in takes),
                       reason[:128], turn.user.id or 0, turn.user.name)

    await _show(turn, await turn.lookup(plan))


async def start_for_lot(turn: Turn, action: CardAction) -> None:
    """The 报损 button of a near-expiry lot: all of that lot that is not reserved."""
    require_role(turn.user, WRITE_OFF_ROLES, "报损")
    try:
        lot_id = int(action.value.get("lot_id", ""))
    except ValueError:
        raise InvalidInput("按钮数据不对，请重新发“临期”查看") from None
    today = turn.now().date()

    async def plan(session: AsyncSession) -> Pending:
        lot = await session.get(Lot, lot_id)
        if lot is None:
            raise NotFound("这个批次已经不存在了")
        product = await get_product(session, lot.product_id)
        warehouse = await session.get(Warehouse, lot.warehouse_id)
        assert warehouse is not None
        takes = await plan_write_off(session, product, warehouse, quantity=None, lot_no=lot.lot_no, today=today)
        reason = "过期" if expired(lot.expiry_date, today) else ""
        return Pending(product.id or 0, warehouse.id or 0, tuple((t.lot_id, str(t.quantity)) for t in takes),
                       reason, turn.user.id or 0, turn.user.name)

    pending = await turn.lookup(plan)
    await turn.services.conversations.clear(turn.origin)  # the 标记处理 card waited for a typed note instead
    await _show(turn, pending)


# ---------------------------------------------------------------- the buttons


async def confirm(turn: Turn, action: CardAction) -> None:
    await _confirm(turn, action.card_id, action.value.get("reason", ""), action)


async def confirm_typed(turn: Turn, card_id: str) -> None:
    await _confirm(turn, card_id, "", None)


async def _confirm(turn: Turn, card_id: str, chosen: str, action: CardAction | None) -> None:
    """确认报损, or a reason pressed (`chosen`); `action`: the press, None when typed (the card updated alike)."""
    pending = await _pending_for(turn, card_id, "确认")
    if pending is None:
        return
    reason = pending.reason or chosen
    if not reason:  # typed on a card that asks for the reason: only a press can give it
        turn.say(Text(f"请在报损卡片上点选原因（{'、'.join(REASON_BUTTONS)}）即确认报损，或发“取消”。"))
        return
    if not pending.reason and reason not in REASON_BUTTONS:
        raise InvalidInput("按钮数据不对，请重新发起报损")
    clock, costs = turn.clock(), turn.shows_costs()
    shown = Pending(**{**asdict(pending), "reason": reason})

    async def work(session: AsyncSession) -> tuple[str, str]:
        document = await write_off(
            session, turn.user, product_id=pending.product_id, warehouse_id=pending.warehouse_id,
            takes=pending.lot_takes(), reason=reason, clock=clock,
        )
        card = await _card(session, card_id, shown, costs=False)
        status = decided_status(f"已报损 {document.number}", turn.user.name, turn.now())
        product = await get_product(session, pending.product_id)
        title = f"报损单 {document.number} · {product_label(product)}"
        await enqueue_card_update(session, Card(card.card_id, title, Tone.NEUTRAL, card.fields, card.tables, status=status), action)
        warehouse = await session.get(Warehouse, pending.warehouse_id)
        said = (f"已报损 {document.number}：{product_label(product)} "
                f"{await describe_quantity(session, product, document.quantity)}（{warehouse.name if warehouse else ''}），"
                f"原因：{reason}。")
        if costs:
            said += f"损失 {format_money(document.value)}（按平均成本）。"
        if await _report_to_managers(session, document, turn.user):
            said += f"已通知经理；如有误，请经理撤销（撤销报损 {document.number}）。"
        return document.number, said

    booked = await HELD.book(turn, card_id, work, lambda result: f"这张报损已确认为 {result[0]}。")
    if booked is not None:
        turn.say(Text(booked[1]))


async def cancel(turn: Turn, action: CardAction) -> None:
    await _cancel(turn, action.card_id, action)


async def cancel_typed(turn: Turn, card_id: str) -> None:
    await _cancel(turn, card_id, None)


async def _cancel(turn: Turn, card_id: str, action: CardAction | None) -> None:
    """取消, pressed (`action`) or typed: nothing leaves the books, and the card says so."""
    pending = await _pending_for(turn, card_id, "取消")
    if pending is None:
        return
    await HELD.drop(turn, card_id)

    async def work(session: AsyncSession) -> None:
        card = await _card(session, card_id, pending, costs=False)
        status = decided_status("已取消", turn.user.name, turn.now())
        await enqueue_card_update(
            session, Card(card.card_id, card.title, Tone.NEUTRAL, card.fields, card.tables, status=status), action
        )

    turn.say(Text("已取消报损，库存没有变化。"))
    await turn.transact(work)


# ---------------------------------------------------------------- managers see it, and may undo it


def notice_card_id(number: str) -> str:
    """One card per write-off for all its managers, so an undo (pressed or typed) updates every copy."""
    return f"write-off-notice:{number}"


async def _notice_card(session: AsyncSession, document: WriteOffDocument, *, status: str = "") -> Card:
    """What a manager needs to judge a write-off: what, where, how much, why, who, and what it cost
    (managers and owners see costs; the card goes to their direct chats only)."""
    product = await get_product(session, document.product_id)
    warehouse = await session.get(Warehouse, document.warehouse_id)
    maker = await session.get(User, document.user_id)
    movements = (
        await session.scalars(
            select(Movement)
            .where(col(Movement.ref_type) == "write_off", col(Movement.ref_id) == document.id)
            .order_by(col(Movement.lot_id))
        )
    ).all()
    rows = []
    for movement in movements:
        lot = await session.get(Lot, movement.lot_id)
        assert lot is not None
        rows.append((lot.lot_no or "（无批次）", f"{lot.expiry_date}" if lot.expiry_date else "-",
                     await describe_quantity(session, product, -movement.quantity)))
    return Card(
        card_id=notice_card_id(document.number),
        title=f"报损 {document.number} · {product_label(product)}",
        tone=Tone.NEUTRAL if status else Tone.WARNING,
        fields=(
            ("仓库", warehouse.name if warehouse else ""),
            ("数量", await describe_quantity(session, product, document.quantity)),
            ("原因", document.reason),
            ("报损人", maker.name if maker else ""),
            ("损失", f"{format_money(document.value)}（按平均成本）"),
        ),
        tables=(Table(("批次", "到期", "报损数量"), tuple(rows)),),
        note="" if status else "如果报错了，撤销后库存回到原批次。",
        buttons=() if status else (Button("撤销报损", "writeoff.reverse", {"number": document.number}),),
        status=status,
    )


async def _report_to_managers(session: AsyncSession, document: WriteOffDocument, booker: User) -> bool:
    """The notice card to every manager and owner but the booker; whether anyone was told."""
    others = [user.id or 0 for user in await users_with_roles(session, [Role.MANAGER, Role.OWNER]) if user.id != booker.id]
    return await enqueue_for_users(session, others, await _notice_card(session, document)) > 0


async def undo_command(turn: Turn, command: UndoWriteOff) -> None:
    if not command.document_no.startswith("BS-"):
        raise InvalidInput(f"{command.document_no} 不是报损单：只能撤销报损单（BS-…）")
    await _undo(turn, command.document_no, None)


async def undo_pressed(turn: Turn, action: CardAction) -> None:
    number = str(action.value.get("number", ""))
    if not number.startswith("BS-"):
        raise InvalidInput("按钮数据不对，请发：撤销报损 BS-…")
    await _undo(turn, number, action)


async def _undo(turn: Turn, number: str, action: CardAction | None) -> None:
    """Stock back, every manager's notice marked, and the booker told, in one transaction."""
    require_role(turn.user, REVERSE_ROLES, "撤销报损")
    clock = turn.clock()

    async def work(session: AsyncSession) -> str:
        document = await reverse_write_off(session, turn.user, number, clock=clock)
        status = decided_status("已撤销", turn.user.name, turn.now())
        await enqueue_card_update(session, await _notice_card(session, document, status=status), action)
        product = await get_product(session, document.product_id)
        warehouse = await session.get(Warehouse, document.warehouse_id)
        what = (f"{product_label(product)} {await describe_quantity(session, product, document.quantity)} "
                f"已回到{warehouse.name if warehouse else '原仓库'}")
        if document.user_id != turn.user.id:
            await enqueue_for_users(
                session, [document.user_id], Text(f"{turn.user.name} 撤销了您的报损 {document.number}：{what}。")
            )
        return f"已撤销报损 {document.number}：{what}（原批次）。"

    turn.say(Text(await turn.transact(work)))
