"""Money from chat: 收款 (a customer pays us), 付款 (we pay a supplier), 欠款 / 应收 and 应付 (who owes what).

收款 and 付款 show a card first: the amount, how it was paid, the balance before and after, and the open
documents it settles, oldest first (core's plan, `core.accounts`). Only its maker's 确认收款 / 确认付款 books
it, once, and core refuses it if the balance changed since the card was shown (a colleague booked the same
transfer). Core takes no prepayment, so more than is owed is refused by name. What we owe suppliers is
purchase money: 付款 and 应付 answer in the asker's direct chat, as purchase orders do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import decided_status, new_card_id
from bot.handlers.common import HeldCards
from bot.model import Button, ButtonStyle, Card, CardAction, Origin, Table, Text, Tone
from bot.outbox import enqueue_card_update
from bot.parser import Payables, PaySupplier, Receivables, ReceivePayment
from bot.turn import Turn
from core.accounts import (
    PAYING_ROLES,
    RECEIVING_ROLES,
    Settlement,
    check_payment_amount,
    customer_balance,
    customer_balances,
    open_payables,
    open_receivables,
    pay_supplier_account,
    plan_customer_payment,
    plan_supplier_payment,
    receive_customer_payment,
    supplier_balance,
    supplier_balances,
)
from core.catalog import find_customer, find_supplier
from core.documents import Payable, Receivable
from core.models import ZERO, Role
from core.quantity import format_money
from core.users import has_role, require_role

HELD = HeldCards("payment", busy="这笔款正在登记，请稍候。")
MAX_ROWS = 30  # documents or partners on one card: a long list is read on a screen, not scrolled for ever
# Who may see what the suppliers are owed: those who buy and those who pay (purchase money, never in a group).
PAYABLE_VIEWERS = {Role.PURCHASER, *PAYING_ROLES}


@dataclass(frozen=True, slots=True)
class _Words:
    """How one direction of money is said."""

    verb: str  # 收 / 付
    partner: str  # 客户 / 供应商
    before: str
    after: str
    open: str


_SAID = {
    "collect": _Words("收", "客户", "收款前欠款", "收款后欠款", "未收"),
    "pay": _Words("付", "供应商", "付款前应付", "付款后应付", "未付"),
}


@dataclass(frozen=True, slots=True)
class Pending:
    """A shown payment, kept by its card until its maker confirms or cancels it."""

    direction: str  # "collect" (a customer pays us) or "pay" (we pay a supplier): the card id's kind too
    partner_id: int
    partner: str
    amount: str
    method: str
    note: str
    balance: str  # before, as shown: core refuses the payment if it changed
    allocations: tuple[tuple[str, str, str, str], ...]  # (document, date, open, settled)
    owner_id: int
    owner: str


def _local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


async def _pending_for(turn: Turn, card_id: str, doing: str) -> Pending | None:
    data = await HELD.held(turn, card_id)
    if data is None:
        return None
    pending = Pending(**{**data, "allocations": tuple(tuple(row) for row in data["allocations"])})
    words = _SAID[pending.direction]
    if pending.owner_id != turn.user.id:
        turn.say(Text(f"这是{pending.owner}登记的{words.verb}款，只有{pending.owner}本人可以{doing}。"))
        return None
    await turn.services.conversations.remember_draft(_origin_of(turn, pending), card_id, HELD.ttl)
    return pending


def _origin_of(turn: Turn, pending: Pending) -> Origin:
    """The chat the card is in: this one, or the direct chat a 付款 card is sent to from a group."""
    if pending.direction == "pay" and not turn.shows_costs():
        return replace(turn.origin, chat_id=turn.origin.sender_id, chat_kind="direct")
    return turn.origin


def _card(card_id: str, pending: Pending) -> Card:
    words = _SAID[pending.direction]
    amount, before = Decimal(pending.amount), Decimal(pending.balance)
    fields = [(words.partner, pending.partner), (f"{words.verb}款金额", format_money(amount))]
    if pending.method:
        fields.append(("方式", pending.method))
    if pending.note:
        fields.append(("备注", pending.note))
    fields += [(words.before, format_money(before)), (words.after, format_money(before - amount))]
    return Card(
        card_id=card_id,
        title=f"{words.verb}款确认 · {pending.partner}",
        tone=Tone.INFO,
        fields=tuple(fields),
        tables=(Table(("冲抵单据", "日期", words.open, "本次冲抵"), pending.allocations),),
        note=f"确认后按单据先后冲抵{pending.partner}的{'欠款' if pending.direction == 'collect' else '应付货款'}。",
        buttons=(
            Button(f"确认{words.verb}款", f"{pending.direction}.confirm", {}, ButtonStyle.PRIMARY),
            Button("取消", f"{pending.direction}.cancel", {}),
        ),
    )


async def _show(turn: Turn, direction: str, partner_text: str, amount: Decimal, method: str, note: str) -> None:
    words = _SAID[direction]
    check_payment_amount(amount, words.verb)  # before anything is read: 0, negatives, fractions of a cent
    await turn.services.conversations.forget_draft(turn.origin)
    tz = turn.services.settings.timezone

    async def plan(session: AsyncSession) -> Pending:
        if direction == "collect":
            customer = await find_customer(session, partner_text)
            settlement = await plan_customer_payment(session, customer.id or 0, amount)
        else:
            supplier = await find_supplier(session, partner_text)
            settlement = await plan_supplier_payment(session, supplier.id or 0, amount)
        return _pending(turn, direction, settlement, method, note, tz)

    pending = await turn.lookup(plan)
    card = _card(new_card_id(direction), pending)
    await HELD.hold(turn, card.card_id, pending, _origin_of(turn, pending))
    if direction == "pay":
        turn.say_with_costs(card, notice=f"付款涉及进货金额，卡片已私信发给 {turn.user.name}。")
    else:
        turn.say(card)


def _pending(turn: Turn, direction: str, settlement: Settlement, method: str, note: str, tz: ZoneInfo) -> Pending:
    rows = tuple(
        (a.ref_no, f"{_local_date(a.created_at, tz):%Y-%m-%d}", format_money(a.open_amount), format_money(a.amount))
        for a in settlement.allocations
    )
    return Pending(
        direction, settlement.partner_id, settlement.name, str(settlement.amount), method[:32], note[:200],
        str(settlement.before), rows, turn.user.id or 0, turn.user.name,
    )


async def receive_command(turn: Turn, command: ReceivePayment) -> None:
    require_role(turn.user, RECEIVING_ROLES, "登记收款")
    await _show(turn, "collect", command.customer, command.amount, command.method, command.note)


async def pay_command(turn: Turn, command: PaySupplier) -> None:
    require_role(turn.user, PAYING_ROLES, "登记付款")
    await _show(turn, "pay", command.supplier, command.amount, command.method, command.note)


# ---------------------------------------------------------------- the buttons


async def confirm(turn: Turn, action: CardAction) -> None:
    await _confirm(turn, action.card_id, action)


async def confirm_typed(turn: Turn, card_id: str) -> None:
    await _confirm(turn, card_id, None)


async def _confirm(turn: Turn, card_id: str, action: CardAction | None) -> None:
    pending = await _pending_for(turn, card_id, "确认")
    if pending is None:
        return
    words, clock = _SAID[pending.direction], turn.clock()
    amount, expected = Decimal(pending.amount), Decimal(pending.balance)

    async def work(session: AsyncSession) -> str:
        book = receive_customer_payment if pending.direction == "collect" else pay_supplier_account
        settlement = await book(
            session, turn.user, pending.partner_id, amount, method=pending.method, note=pending.note,
            expected_balance=expected, clock=clock,
        )
        status = decided_status(f"已{words.verb}款 {format_money(amount)}", turn.user.name, turn.now())
        card = _card(card_id, pending)
        await enqueue_card_update(session, replace(card, tone=Tone.SUCCESS, note="", buttons=(), status=status), action)
        how = f"（{pending.method}）" if pending.method else ""
        refs = "、".join(a.ref_no for a in settlement.allocations)
        if pending.direction == "collect":
            rest = f"{settlement.name}还欠 {format_money(settlement.after)}" if settlement.after else f"{settlement.name}的欠款已结清"
            return f"已收到{settlement.name} {format_money(amount)}{how}，冲抵 {refs}；{rest}。"
        rest = f"还欠{settlement.name} {format_money(settlement.after)}" if settlement.after else f"{settlement.name}的货款已付清"
        return f"已付给{settlement.name} {format_money(amount)}{how}，冲抵 {refs}；{rest}。"

    said = await HELD.book(turn, card_id, work, lambda result: f"这笔{words.verb}款已登记：{result}")
    if said is not None:
        turn.say(Text(said))


async def cancel(turn: Turn, action: CardAction) -> None:
    await _cancel(turn, action.card_id, action)


async def cancel_typed(turn: Turn, card_id: str) -> None:
    await _cancel(turn, card_id, None)


async def _cancel(turn: Turn, card_id: str, action: CardAction | None) -> None:
    pending = await _pending_for(turn, card_id, "取消")
    if pending is None:
        return
    await HELD.drop(turn, card_id)
    card = _card(card_id, pending)
    status = decided_status("已取消", turn.user.name, turn.now())
    turn.say(Text(f"已取消，没有登记这笔{_SAID[pending.direction].verb}款。"))
    await turn.transact(
        lambda session: enqueue_card_update(
            session, replace(card, tone=Tone.NEUTRAL, note="", buttons=(), status=status), action
        )
    )


# ---------------------------------------------------------------- who owes what


def _open_rows(items: list[Receivable] | list[Payable], today: date, tz: ZoneInfo) -> tuple[tuple[str, ...], ...]:
    rows = []
    for item in items[:MAX_ROWS]:
        day = _local_date(item.created_at, tz)
        rows.append((
            item.ref_no, f"{day:%Y-%m-%d}", format_money(item.amount), format_money(item.paid),
            format_money(item.amount - item.paid), f"{(today - day).days}天",
        ))
    return tuple(rows)


def _more(items: list[Any]) -> str:
    return f"只列出最早的 {MAX_ROWS} 张，共 {len(items)} 张。" if len(items) > MAX_ROWS else ""


async def receivables(turn: Turn, command: Receivables) -> None:
    """欠款 华联: the customer's balance and open documents, oldest first; 欠款 alone: every customer who owes,
    most first. Those who take payments may ask (salespeople, managers, the owner)."""
    require_role(turn.user, RECEIVING_ROLES, "查看客户欠款")
    tz, today = turn.services.settings.timezone, turn.now().date()
    if not command.customer:
        balances = await turn.read(customer_balances)
        owing = sum(1 for b in balances if b.balance > 0)
        if not owing:
            credits = f"（{len(balances)} 家有退货款可抵下次货款）" if balances else ""
            turn.say(Text(f"目前没有客户欠款{credits}。"))
            return
        owed = sum((b.balance for b in balances if b.balance > 0), ZERO)
        turn.say(Card(
            card_id=new_card_id("receivables"),
            title=f"客户欠款 · {owing} 家",
            tone=Tone.INFO,
            fields=(("欠款合计", format_money(owed)),),
            tables=(Table(("客户", "欠款"), tuple((b.name, format_money(b.balance)) for b in balances[:MAX_ROWS])),),
            note=(f"只列出欠款最多的 {MAX_ROWS} 家。" if len(balances) > MAX_ROWS else "")
            + "看明细请发：欠款 客户名；收款请发：收款 客户名 金额",
        ))
        return

    async def detail(session: AsyncSession) -> Card | Text:
        customer = await find_customer(session, command.customer)
        balance = await customer_balance(session, customer.id or 0)
        items = await open_receivables(session, customer.id or 0)
        if not items:
            return Text(f"{customer.name}目前没有欠款。")
        fields = [("欠款合计", format_money(balance))]
        if balance < 0:
            fields.append(("说明", f"有 {format_money(-balance)} 退货款可抵下次货款"))
        if customer.credit_limit is not None:
            fields.append(("信用额度", format_money(customer.credit_limit)))
        return Card(
            card_id=new_card_id("receivables"),
            title=f"欠款 · {customer.name}",
            tone=Tone.WARNING if balance > 0 else Tone.INFO,
            fields=tuple(fields),
            tables=(Table(("单据", "日期", "金额", "已收", "未收", "账龄"), _open_rows(items, today, tz)),),
            note=_more(items) + "未设账期，账龄从发货（退货）之日算起。收款请发：收款 "
            + f"{command.customer} 金额",
        )

    turn.say(await turn.lookup(detail))


async def payables(turn: Turn, command: Payables) -> None:
    """应付 太古: what we owe the supplier, by document; 应付 alone: every supplier we owe. Purchase money:
    in a direct chat only."""
    require_role(turn.user, PAYABLE_VIEWERS, "查看应付款")
    tz, today = turn.services.settings.timezone, turn.now().date()
    notice = f"应付款涉及进货金额，已私信发给 {turn.user.name}。"
    if not command.supplier:
        balances = await turn.read(supplier_balances)
        owing = sum(1 for b in balances if b.balance > 0)
        if not owing:
            turn.say(Text("目前不欠供应商货款。"))
            return
        owed = sum((b.balance for b in balances if b.balance > 0), ZERO)
        turn.say_with_costs(Card(
            card_id=new_card_id("payables"),
            title=f"应付货款 · {owing} 家供应商",
            tone=Tone.INFO,
            fields=(("应付合计", format_money(owed)),),
            tables=(Table(("供应商", "应付"), tuple((b.name, format_money(b.balance)) for b in balances[:MAX_ROWS])),),
            note="看明细请发：应付 供应商名",
        ), notice=notice)
        return

    async def detail(session: AsyncSession) -> Card | Text:
        supplier = await find_supplier(session, command.supplier)
        balance = await supplier_balance(session, supplier.id or 0)
        items = await open_payables(session, supplier.id or 0)
        if not items:
            return Text(f"目前不欠{supplier.name}货款。")
        fields = [("应付合计", format_money(balance))]
        if balance < 0:
            fields.append(("说明", f"{supplier.name}有 {format_money(-balance)} 退货款可抵下次货款"))
        return Card(
            card_id=new_card_id("payables"),
            title=f"应付 · {supplier.name}",
            tone=Tone.INFO,
            fields=tuple(fields),
            tables=(Table(("单据", "日期", "金额", "已付", "未付", "账龄"), _open_rows(items, today, tz)),),
            note=_more(items) + (f"付款请发：付款 {command.supplier} 金额" if has_role(turn.user, PAYING_ROLES) else ""),
        )

    answer = await turn.lookup(detail)
    if isinstance(answer, Text):
        turn.say(answer)
    else:
        turn.say_with_costs(answer, notice=notice)
