"""Approval of purchase orders: a chain of roles chosen by the order's amount, decided step by step.

Every decision locks the order row first, so a double click, two managers pressing at once or a
retried callback are applied one after the other: the first decides, the others find the step decided
and get AlreadyDecided naming who decided it and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.audit import record
from core.documents import (
    DECISION_ZH,
    PURCHASE_STATUS_ZH,
    ApprovalStep,
    Decision,
    PurchaseOrder,
    PurchaseOrderStatus,
    lock_document,
)
from core.errors import AlreadyDecided, Forbidden, InvalidInput, InvalidState, NotFound
from core.models import Role, User
from core.numbering import DEFAULT_CLOCK, Clock
from core.preferences import get_setting, set_setting
from core.quantity import format_money
from core.users import ROLE_NAMES_ZH, require_role, users_with_roles

APPROVAL_RULES_KEY = "purchase_approval_rules"


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """Orders up to `up_to` (None: any amount) need the `roles`, in this order, one person each."""

    up_to: Decimal | None
    roles: tuple[Role, ...]


DEFAULT_RULES = (
    ApprovalRule(Decimal("5000.00"), (Role.MANAGER,)),
    ApprovalRule(None, (Role.MANAGER, Role.OWNER)),
)


def _validated(rules: Sequence[ApprovalRule]) -> tuple[ApprovalRule, ...]:
    if not rules or rules[-1].up_to is not None:
        raise InvalidInput("审批规则的最后一条必须不设金额上限")
    limits = [rule.up_to for rule in rules[:-1] if rule.up_to is not None]
    if len(limits) < len(rules) - 1 or any(limit <= 0 for limit in limits) or limits != sorted(set(limits)):
        raise InvalidInput("审批规则的金额上限必须大于 0 且从小到大")
    if any(not rule.roles for rule in rules):
        raise InvalidInput("每条审批规则至少要有一个审批角色")
    return tuple(rules)


async def approval_rules(session: AsyncSession) -> tuple[ApprovalRule, ...]:
    stored = await get_setting(session, APPROVAL_RULES_KEY, None)
    if stored is None:
        return DEFAULT_RULES
    return tuple(
        ApprovalRule(None if item["up_to"] is None else Decimal(item["up_to"]), tuple(Role(r) for r in item["roles"]))
        for item in stored
    )


async def set_approval_rules(session: AsyncSession, actor: User, rules: Sequence[ApprovalRule]) -> None:
    require_role(actor, set(), "修改审批规则")  # owners and admins only
    checked = _validated(rules)
    value = [
        {"up_to": None if rule.up_to is None else str(rule.up_to), "roles": [role.value for role in rule.roles]}
        for rule in checked
    ]
    await set_setting(session, actor, APPROVAL_RULES_KEY, value)


def chain_for(rules: Sequence[ApprovalRule], amount: Decimal) -> tuple[Role, ...]:
    for rule in rules:
        if rule.up_to is None or amount <= rule.up_to:
            return rule.roles
    raise AssertionError("validated rules end with an unlimited rule")


async def steps_of(session: AsyncSession, order_id: int) -> list[ApprovalStep]:
    return list(
        (
            await session.scalars(
                select(ApprovalStep).where(col(ApprovalStep.order_id) == order_id).order_by(col(ApprovalStep.step_no))
            )
        ).all()
    )


async def start_approval(session: AsyncSession, order: PurchaseOrder) -> list[ApprovalStep]:
    """The steps an order now needs, from the rules in force when it is submitted."""
    roles = chain_for(await approval_rules(session), order.total)
    steps = [ApprovalStep(order_id=order.id or 0, step_no=n, role=role.value) for n, role in enumerate(roles, start=1)]
    session.add_all(steps)
    return steps


async def _already_decided(session: AsyncSession, step: ApprovalStep, clock: Clock) -> AlreadyDecided:
    assert step.decided_at is not None and step.approver_id is not None
    approver = await session.get(User, step.approver_id)
    local = clock.local(step.decided_at)
    when = f"{local:%H:%M}" if local.date() == clock.today() else f"{local:%Y-%m-%d %H:%M}"
    name = approver.name if approver else str(step.approver_id)
    return AlreadyDecided(
        f"已由 {name} 于 {when} {DECISION_ZH[step.decision]}",
        step_no=step.step_no,
        approver_id=step.approver_id,
        decision=step.decision.value,
    )


async def decide(
    session: AsyncSession,
    actor: User,
    order_id: int,
    *,
    approve: bool,
    comment: str = "",
    step_no: int | None = None,
    clock: Clock = DEFAULT_CLOCK,
) -> PurchaseOrder:
    """Approve or reject the current step of a pending order (or `step_no`, as an approval card names it).

    The requester never decides, nobody decides two steps of one order, and the actor needs the role of
    the step. The last approval approves the order; any rejection rejects it.
    """
    order = await lock_document(session, PurchaseOrder, order_id, "采购单")
    steps = await steps_of(session, order_id)
    decided = [step for step in steps if step.decision != Decision.PENDING]
    if order.status != PurchaseOrderStatus.PENDING_APPROVAL:
        if decided and order.status != PurchaseOrderStatus.CANCELLED:
            target = decided[-1] if step_no is None else next((s for s in decided if s.step_no == step_no), decided[-1])
            raise await _already_decided(session, target, clock)
        raise InvalidState(
            f"采购单 {order.number} {PURCHASE_STATUS_ZH[order.status]}，不能审批", status=order.status.value
        )
    current = next(step for step in steps if step.decision == Decision.PENDING)
    if step_no is not None and step_no != current.step_no:
        named = next((step for step in steps if step.step_no == step_no), None)
        if named is not None and named.decision != Decision.PENDING:
            raise await _already_decided(session, named, clock)
        raise InvalidState(f"采购单 {order.number} 现在在第 {current.step_no} 步审批，不是第 {step_no} 步")
    if actor.id == order.requester_id:
        raise Forbidden(f"不能审批自己提交的采购单 {order.number}", reason="self_approval")
    own = next((step for step in decided if step.approver_id == actor.id), None)
    if own is not None:
        if step_no is None:
            raise await _already_decided(session, own, clock)
        raise Forbidden(f"采购单 {order.number} 的每一步要由不同的人审批", reason="same_approver")
    role = Role(current.role)
    require_role(actor, {role}, f"审批第 {current.step_no} 步（需要{ROLE_NAMES_ZH[role]}）")

    current.decision = Decision.APPROVED if approve else Decision.REJECTED
    current.approver_id = actor.id
    current.decided_at = clock.now()
    current.comment = comment
    before = order.status
    if not approve:
        order.status = PurchaseOrderStatus.REJECTED
    elif current is steps[-1]:
        order.status = PurchaseOrderStatus.APPROVED
    await record(
        session,
        actor,
        "purchase_order",
        order.id,
        current.decision.value,
        {"status": before},
        {"status": order.status, "step_no": current.step_no, "comment": comment},
    )
    return order


@dataclass(frozen=True, slots=True)
class WaitingFor:
    """Who a pending purchase order waits for now: the step's role and the people to send the card to."""

    order_id: int
    number: str
    total: Decimal
    requester_id: int
    step_no: int
    steps: int
    role: Role
    users: tuple[User, ...]

    def describe(self) -> str:
        names = "、".join(user.name for user in self.users) or "（没有人有这个角色）"
        return (
            f"{self.number} {format_money(self.total)} 等待第 {self.step_no}/{self.steps} 步"
            f"{ROLE_NAMES_ZH[self.role]}审批: {names}"
        )


async def _waiting_for(session: AsyncSession, order: PurchaseOrder) -> WaitingFor | None:
    if order.status != PurchaseOrderStatus.PENDING_APPROVAL:
        return None
    steps = await steps_of(session, order.id or 0)
    current = next(step for step in steps if step.decision == Decision.PENDING)
    excluded = {order.requester_id} | {step.approver_id for step in steps if step.approver_id is not None}
    role = Role(current.role)
    users = [user for user in await users_with_roles(session, [role]) if user.id not in excluded]
    if not users:  # nobody holds the role: owners may decide every step
        users = [user for user in await users_with_roles(session, [Role.OWNER]) if user.id not in excluded]
    return WaitingFor(
        order.id or 0, order.number, order.total, order.requester_id, current.step_no, len(steps), role, tuple(users)
    )


async def waiting_for(session: AsyncSession, order_id: int) -> WaitingFor | None:
    """Who must decide next (None when the order is not waiting for approval)."""
    order = await session.get(PurchaseOrder, order_id)
    if order is None:
        raise NotFound(f"没有这个采购单: {order_id}")
    return await _waiting_for(session, order)


async def pending_approvals(session: AsyncSession) -> list[WaitingFor]:
    """Every order waiting for approval, oldest first, with who it waits for."""
    orders = (
        await session.scalars(
            select(PurchaseOrder)
            .where(col(PurchaseOrder.status) == PurchaseOrderStatus.PENDING_APPROVAL)
            .order_by(col(PurchaseOrder.submitted_at), col(PurchaseOrder.id))
        )
    ).all()
    result = []
    for order in orders:
        waiting = await _waiting_for(session, order)
        assert waiting is not None
        result.append(waiting)
    return result
