"""Receivables, payables and payments: what customers owe us and what we owe suppliers.

A receivable is opened by every shipment and a payable by every receipt, in the same transaction as the
stock movement; returns open negative ones (credits). A balance is Σ amount − Σ paid, exact in cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.audit import record
from core.columns import Money, money
from core.documents import Payable, Payment, Receivable, lock_document
from core.errors import InvalidInput, InvalidState
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


def _checked_amount(amount: Decimal, open_amount: Decimal, ref_no: str, verb: str) -> Decimal:
    if amount <= 0 or amount != money(amount):
        raise InvalidInput(f"金额必须大于 0 且最多两位小数: {amount}")
    if open_amount <= 0:
        raise InvalidState(f"{ref_no} 没有未{verb}金额")
    if amount > open_amount:
        raise InvalidInput(f"{ref_no} 未{verb}金额只有 {format_money(open_amount)}，不能{verb} {format_money(amount)}")
    return amount


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
    _checked_amount(amount, receivable.amount - receivable.paid, receivable.ref_no, "收")
    receivable.paid += amount
    payment = Payment(
        receivable_id=receivable.id, amount=amount, method=method, note=note, user_id=actor.id or 0, paid_at=clock.now()
    )
    session.add(payment)
    await session.flush()
    await record(session, actor, "receivable", receivable.id, "payment", None, {"amount": amount, "paid": receivable.paid})
    return payment


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
    _checked_amount(amount, payable.amount - payable.paid, payable.ref_no, "付")
    payable.paid += amount
    payment = Payment(
        payable_id=payable.id, amount=amount, method=method, note=note, user_id=actor.id or 0, paid_at=clock.now()
    )
    session.add(payment)
    await session.flush()
    await record(session, actor, "payable", payable.id, "payment", None, {"amount": amount, "paid": payable.paid})
    return payment


async def customer_balance(session: AsyncSession, customer_id: int) -> Decimal:
    """What the customer still owes (negative: we owe them a credit)."""
    total = await session.scalar(
        select(func.sum(_RECEIVABLE_OPEN)).where(col(Receivable.customer_id) == customer_id)
    )
    return ZERO if total is None else money(total)


async def supplier_balance(session: AsyncSession, supplier_id: int) -> Decimal:
    """What we still owe the supplier (negative: the supplier owes us a credit)."""
    total = await session.scalar(
        select(func.sum(_PAYABLE_OPEN)).where(col(Payable.supplier_id) == supplier_id)
    )
    return ZERO if total is None else money(total)


async def open_receivables(session: AsyncSession, customer_id: int) -> list[Receivable]:
    """Receivables not fully paid, oldest first (what a collection reminder lists)."""
    return list(
        (
            await session.scalars(
                select(Receivable)
                .where(col(Receivable.customer_id) == customer_id, col(Receivable.amount) != Receivable.paid)
                .order_by(col(Receivable.created_at), col(Receivable.id))
            )
        ).all()
    )


async def open_payables(session: AsyncSession, supplier_id: int) -> list[Payable]:
    return list(
        (
            await session.scalars(
                select(Payable)
                .where(col(Payable.supplier_id) == supplier_id, col(Payable.amount) != Payable.paid)
                .order_by(col(Payable.created_at), col(Payable.id))
            )
        ).all()
    )


@dataclass(frozen=True, slots=True)
class PartnerBalance:
    partner_id: int
    name: str
    balance: Decimal


async def customer_balances(session: AsyncSession) -> list[PartnerBalance]:
    """Every customer with a non-zero balance, largest debt first."""
    balance = func.sum(_RECEIVABLE_OPEN)
    rows = await session.execute(
        select(col(Customer.id), col(Customer.name), balance)
        .join(Receivable, col(Receivable.customer_id) == Customer.id)
        .group_by(col(Customer.id), col(Customer.name))
        .having(balance != 0)
        .order_by(balance.desc(), col(Customer.id))
    )
    return [PartnerBalance(pid or 0, name, money(total)) for pid, name, total in rows.all()]


async def supplier_balances(session: AsyncSession) -> list[PartnerBalance]:
    balance = func.sum(_PAYABLE_OPEN)
    rows = await session.execute(
        select(col(Supplier.id), col(Supplier.name), balance)
        .join(Payable, col(Payable.supplier_id) == Supplier.id)
        .group_by(col(Supplier.id), col(Supplier.name))
        .having(balance != 0)
        .order_by(balance.desc(), col(Supplier.id))
    )
    return [PartnerBalance(pid or 0, name, money(total)) for pid, name, total in rows.all()]
