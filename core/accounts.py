"""Receivables, payables and payments: what customers owe us and what we owe suppliers.

A receivable is opened by every shipment and a payable by every receipt, in the same transaction as the
stock movement; returns open negative ones (credits). A balance is Σ amount − Σ paid, exact in cents.

Money is paid against one item (`receive_payment`, `pay_supplier`), or against a partner's account as people
pay it (`receive_customer_payment`, `pay_supplier_account`): the amount settles the open items oldest first
and is never more than the balance, because an item cannot be overpaid and nothing here holds a prepayment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import ColumnElement, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from core.audit import record
from core.columns import Money, money
from core.documents import Payable, Payment, Receivable, lock_document
from core.errors import InvalidInput, InvalidState, NotFound
from core.models import ZERO, Customer, Role, Supplier, User
from core.numbering import DEFAULT_CLOCK, Clock
from core.quantity import format_money
from core.users import require_role

RECEIVING_ROLES = {Role.SALES, Role.MANAGER}
PAYING_ROLES = {Role.MANAGER}

# A difference of two scaled columns is a plain integer to SQLAlchemy; coerce it back to money.
_RECEIVABLE_OPEN = type_coerce(Receivable.amount - Receivable.paid, Money)
_PAYABLE_OPEN = type_coerce(Payable.amount - Payable.paid, Money)


async def open_receivable(
    session: AsyncSession,
    *,
    customer_id: int,
    amount: Decimal,
    ref_no: str,
    shipment_id: int | None = None,
    sales_return_id: int | None = None,
) -> Receivable:
    receivable = Receivable(
        customer_id=customer_id,
        shipment_id=shipment_id,
        sales_return_id=sales_return_id,
        ref_no=ref_no,
        amount=amount,
    )
    session.add(receivable)
    return receivable


async def open_payable(
    session: AsyncSession,
    *,
    supplier_id: int,
    amount: Decimal,
    ref_no: str,
    receipt_id: int | None = None,
    purchase_return_id: int | None = None,
) -> Payable:
    payable = Payable(
        supplier_id=supplier_id,
        receipt_id=receipt_id,
        purchase_return_id=purchase_return_id,
        ref_no=ref_no,
        amount=amount,
    )
    session.add(payable)
    return payable


async def _settle(
    session: AsyncSession,
    actor: User,
    item: Receivable | Payable,
    amount: Decimal,
    *,
    verb: str,
    method: str,
    note: str,
    clock: Clock,
) -> Payment:
    """Pay `amount` of an open receivable or payable (locked by the caller); never more than is still open."""
    open_amount = item.amount - item.paid
    if amount <= 0 or amount != money(amount):
        raise InvalidInput(f"金额必须大于 0 且最多两位小数: {amount}")
    if open_amount <= 0:
        raise InvalidState(f"{item.ref_no} 没有未{verb}金额")
    if amount > open_amount:
        raise InvalidInput(f"{item.ref_no} 未{verb}金额只有 {format_money(open_amount)}，不能{verb} {format_money(amount)}")
    item.paid += amount
    payment = Payment(amount=amount, method=method, note=note, user_id=actor.id or 0, paid_at=clock.now())
    if isinstance(item, Receivable):
        payment.receivable_id, entity = item.id, "receivable"
    else:
        payment.payable_id, entity = item.id, "payable"
    session.add(payment)
    await session.flush()
    await record(session, actor, entity, item.id, "payment", None, {"amount": amount, "paid": item.paid})
    return payment


async def receive_payment(
    session: AsyncSession,
    actor: User,
    receivable_id: int,
    amount: Decimal,
    *,
    method: str = "",
    note: str = "",
    clock: Clock = DEFAULT_CLOCK,
) -> Payment:
    """Money from a customer against one receivable; never more than is still open."""
    require_role(actor, RECEIVING_ROLES, "登记收款")
    receivable = await lock_document(session, Receivable, receivable_id, "应收款")
    return await _settle(session, actor, receivable, amount, verb="收", method=method, note=note, clock=clock)


async def pay_supplier(
    session: AsyncSession,
    actor: User,
    payable_id: int,
    amount: Decimal,
    *,
    method: str = "",
    note: str = "",
    clock: Clock = DEFAULT_CLOCK,
) -> Payment:
    """Money to a supplier against one payable; never more than is still open."""
    require_role(actor, PAYING_ROLES, "登记付款")
    payable = await lock_document(session, Payable, payable_id, "应付款")
    return await _settle(session, actor, payable, amount, verb="付", method=method, note=note, clock=clock)


async def _balance(session: AsyncSession, open_amount: ColumnElement[Decimal], of_partner: ColumnElement[bool]) -> Decimal:
    total = await session.scalar(select(func.sum(open_amount)).where(of_partner))
    return ZERO if total is None else money(total)


async def customer_balance(session: AsyncSession, customer_id: int) -> Decimal:
    """What the customer still owes (negative: we owe them a credit)."""
    return await _balance(session, _RECEIVABLE_OPEN, col(Receivable.customer_id) == customer_id)


async def supplier_balance(session: AsyncSession, supplier_id: int) -> Decimal:
    """What we still owe the supplier (negative: the supplier owes us a credit)."""
    return await _balance(session, _PAYABLE_OPEN, col(Payable.supplier_id) == supplier_id)


async def open_receivables(session: AsyncSession, customer_id: int) -> list[Receivable]:
    """Receivables not fully paid, oldest first (what a collection reminder lists)."""
    return await _open_items(session, Receivable, col(Receivable.customer_id) == customer_id)


async def open_payables(session: AsyncSession, supplier_id: int) -> list[Payable]:
    return await _open_items(session, Payable, col(Payable.supplier_id) == supplier_id)


Item = TypeVar("Item", Receivable, Payable)


async def _open_items(session: AsyncSession, model: type[Item], of_partner: ColumnElement[bool]) -> list[Item]:
    statement = (
        select(model)
        .where(of_partner, col(model.amount) != model.paid)
        .order_by(col(model.created_at), col(model.id))
    )
    return list((await session.scalars(statement)).all())


@dataclass(frozen=True, slots=True)
class PartnerBalance:
    partner_id: int
    name: str
    balance: Decimal


async def customer_balances(session: AsyncSession) -> list[PartnerBalance]:
    """Every customer with a non-zero balance, largest debt first."""
    return await _balances(session, Customer, Receivable, col(Receivable.customer_id), _RECEIVABLE_OPEN)


async def supplier_balances(session: AsyncSession) -> list[PartnerBalance]:
    return await _balances(session, Supplier, Payable, col(Payable.supplier_id), _PAYABLE_OPEN)


async def _balances(
    session: AsyncSession,
    partner: type[Customer] | type[Supplier],
    item: type[Receivable] | type[Payable],
    partner_key: Mapped[int],
    open_amount: ColumnElement[Decimal],
) -> list[PartnerBalance]:
    balance = func.sum(open_amount)
    rows = await session.execute(
        select(col(partner.id), col(partner.name), balance)
        .join(item, partner_key == partner.id)
        .group_by(col(partner.id), col(partner.name))
        .having(balance != 0)
        .order_by(balance.desc(), col(partner.id))
    )
    return [PartnerBalance(pid or 0, name, money(total)) for pid, name, total in rows.all()]


# ---------------------------------------------------------------- paying an account, as people pay


@dataclass(frozen=True, slots=True)
class Allocation:
    """The part of a payment that settles one open item."""

    item_id: int
    ref_no: str
    created_at: datetime
    open_amount: Decimal  # before this payment
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Settlement:
    """A payment against a partner's account: the balance before and after, and the items it settles."""

    partner_id: int
    name: str
    amount: Decimal
    before: Decimal
    allocations: tuple[Allocation, ...]

    @property
    def after(self) -> Decimal:
        return self.before - self.amount


def check_payment_amount(amount: Decimal, verb: str = "收") -> None:
    """Refuse what is no payment before anything is read: zero, a negative amount, a fraction of a cent."""
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(f"{verb}款金额必须大于 0")
    if amount != money(amount):
        raise InvalidInput(f"{verb}款金额最多两位小数（到分）：{amount.normalize():f}")


async def _plan(
    session: AsyncSession, model: type[Item], partner_id: int, amount: Decimal, *, lock: bool
) -> tuple[Settlement, list[Item]]:
    """The open items of a partner (locked with `lock`) and how `amount` settles them, oldest first."""
    verb = "收" if model is Receivable else "付"
    check_payment_amount(amount, verb)
    partner: Customer | Supplier | None
    if model is Receivable:
        partner, of_partner = await session.get(Customer, partner_id), col(Receivable.customer_id) == partner_id
    else:
        partner, of_partner = await session.get(Supplier, partner_id), col(Payable.supplier_id) == partner_id
    if partner is None:
        raise NotFound(f"没有这个{'客户' if model is Receivable else '供应商'}: {partner_id}")
    statement = (
        select(model).where(of_partner, col(model.amount) != model.paid).order_by(col(model.created_at), col(model.id))
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    items = list((await session.scalars(statement)).all())
    balance = sum((item.amount - item.paid for item in items), ZERO)
    owed = f"{partner.name} 目前欠款" if model is Receivable else f"目前欠 {partner.name}"
    prepaid = "不支持预收款" if model is Receivable else "不支持预付款"
    if balance <= 0:
        credit = f"（有 {format_money(-balance)} 退货款可抵下次货款）" if balance < 0 else ""
        whose = f"{partner.name} 目前没有欠款" if model is Receivable else f"目前不欠 {partner.name} 货款"
        raise InvalidState(f"{whose}{credit}，不能{verb}款（{prepaid}）", balance=balance)
    if amount > balance:
        raise InvalidInput(
            f"{owed} {format_money(balance)}，不能{verb} {format_money(amount)}：{verb}款不能超过欠款（{prepaid}）",
            balance=balance,
        )
    allocations, left = [], amount
    for item in items:
        open_amount = item.amount - item.paid
        if left <= 0:
            break
        if open_amount > 0:
            take = min(open_amount, left)
            allocations.append(Allocation(item.id or 0, item.ref_no, item.created_at, open_amount, take))
            left -= take
    return Settlement(partner_id, partner.name, amount, balance, tuple(allocations)), items


async def plan_customer_payment(session: AsyncSession, customer_id: int, amount: Decimal) -> Settlement:
    """What receiving `amount` from a customer would settle; refused over the balance (nothing is written)."""
    settlement, _items = await _plan(session, Receivable, customer_id, amount, lock=False)
    return settlement


async def plan_supplier_payment(session: AsyncSession, supplier_id: int, amount: Decimal) -> Settlement:
    settlement, _items = await _plan(session, Payable, supplier_id, amount, lock=False)
    return settlement


async def _settle_account(
    session: AsyncSession,
    actor: User,
    model: type[Item],
    partner_id: int,
    amount: Decimal,
    *,
    method: str,
    note: str,
    expected_balance: Decimal | None,
    clock: Clock,
) -> Settlement:
    verb = "收" if model is Receivable else "付"
    settlement, items = await _plan(session, model, partner_id, amount, lock=True)
    if expected_balance is not None and settlement.before != expected_balance:
        whose = f"{settlement.name} 的欠款" if model is Receivable else f"欠 {settlement.name} 的货款"
        raise InvalidState(
            f"{whose}已经变了：原来 {format_money(expected_balance)}，现在 {format_money(settlement.before)}"
            f"（可能同事刚登记了{verb}款或退货），请核对后重新发起",
            balance=settlement.before,
        )
    by_id = {item.id: item for item in items}
    for allocation in settlement.allocations:
        await _settle(
            session, actor, by_id[allocation.item_id], allocation.amount,
            verb=verb, method=method[:32], note=note[:256], clock=clock,
        )
    return settlement


async def receive_customer_payment(
    session: AsyncSession,
    actor: User,
    customer_id: int,
    amount: Decimal,
    *,
    method: str = "",
    note: str = "",
    expected_balance: Decimal | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> Settlement:
    """Money from a customer against their account, settling the oldest receivables first; never more than
    they owe. `expected_balance`: the balance the person saw, refused if it changed meanwhile (a colleague
    booked the same money)."""
    require_role(actor, RECEIVING_ROLES, "登记收款")
    return await _settle_account(
        session, actor, Receivable, customer_id, amount,
        method=method, note=note, expected_balance=expected_balance, clock=clock,
    )


async def pay_supplier_account(
    session: AsyncSession,
    actor: User,
    supplier_id: int,
    amount: Decimal,
    *,
    method: str = "",
    note: str = "",
    expected_balance: Decimal | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> Settlement:
    """Money to a supplier against our account with them, settling the oldest payables first."""
    require_role(actor, PAYING_ROLES, "登记付款")
    return await _settle_account(
        session, actor, Payable, supplier_id, amount,
        method=method, note=note, expected_balance=expected_balance, clock=clock,
    )
