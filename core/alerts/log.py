"""The alert log: what is wrong now against what was said (alert now, stay quiet, or "已恢复"), and a near-expiry
lot marked as being dealt with (标记处理), which the chat does and the scheduler's runs respect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from core.alerts.models import AlertState
from core.alerts.route import AlertKind
from core.audit import record
from core.errors import NotFound
from core.models import Lot, User
from core.stock import ExpiringLot, LowStockRow


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong right now: a product low in a warehouse (or in total), a lot near or past expiry."""

    subject: str
    kind: AlertKind
    state: str
    label: str
    product_id: int
    warehouse_id: int | None  # None: all warehouses together
    warehouse_name: str
    category_id: int | None
    row: LowStockRow | ExpiringLot


@dataclass(frozen=True, slots=True)
class Plan:
    alert: tuple[Finding, ...]  # entered its state, or still in it on a new day
    recovered: tuple[AlertState, ...]  # cleared since the last run
    quiet: int  # already alerted today, or marked handled


def plan(findings: Sequence[Finding], open_states: Mapping[str, AlertState], today: date, *, force: bool) -> Plan:
    """`force` (an admin's manual run) repeats what was already said today; it never repeats a recovery."""
    alert, quiet = [], 0
    for finding in findings:
        state = open_states.get(finding.subject)
        if (
            state is None
            or state.state != finding.state
            or force
            or (not state.handled_at and (state.last_alerted_on or date.min) < today)
        ):
            alert.append(finding)
        else:
            quiet += 1
    current = {finding.subject for finding in findings}
    recovered = tuple(state for subject, state in open_states.items() if subject not in current)
    return Plan(tuple(alert), recovered, quiet)


async def open_states(session: AsyncSession, kind: AlertKind) -> dict[str, AlertState]:
    rows = await session.scalars(
        select(AlertState).where(AlertState.kind == kind.value, col(AlertState.resolved_at).is_(None))
    )
    return {row.subject: row for row in rows.all()}


async def write_plan(session: AsyncSession, result: Plan, open_by_subject: Mapping[str, AlertState], today: date,
                 now: datetime) -> None:
    """Write the plan to the log, in the transaction that queues its messages."""
    for finding in result.alert:
        state = open_by_subject.get(finding.subject)
        if state is None:
            state = await session.scalar(select(AlertState).where(AlertState.subject == finding.subject))
            if state is None:
                state = AlertState(subject=finding.subject, kind=finding.kind.value, state=finding.state)
                session.add(state)
            state.opened_at, state.resolved_at = now, None
            _clear_handling(state)
        elif state.state != finding.state:
            state.opened_at = now
            _clear_handling(state)  # handled as near expiry says nothing about it having expired
        state.state = finding.state
        state.label = finding.label[:256]
        state.product_id, state.warehouse_id = finding.product_id, finding.warehouse_id
        state.lot_id = finding.row.lot_id if isinstance(finding.row, ExpiringLot) else None
        state.last_alerted_on = today
    for state in result.recovered:
        state.resolved_at = now


def _clear_handling(state: AlertState) -> None:
    state.handled_note, state.handled_by, state.handled_at = "", None, None


def lot_subject(lot_id: int) -> str:
    return f"{AlertKind.NEAR_EXPIRY.value}:{lot_id}"


async def mark_handled(session: AsyncSession, actor: User, lot_id: int, note: str, today: date,
                       now: datetime) -> AlertState:
    """A lot near or past expiry is being dealt with (促销, 退货, 报损…): no more daily repeats in this state."""
    lot = await session.get(Lot, lot_id)
    if lot is None:
        raise NotFound(f"没有这个批次: {lot_id}")
    subject = lot_subject(lot_id)
    state = await session.scalar(select(AlertState).where(AlertState.subject == subject))
    expired = lot.expiry_date is not None and lot.expiry_date < today
    if state is None:
        state = AlertState(subject=subject, kind=AlertKind.NEAR_EXPIRY.value, state="expired" if expired else "near",
                           product_id=lot.product_id, warehouse_id=lot.warehouse_id, lot_id=lot_id, last_alerted_on=today)
        session.add(state)
    state.handled_note, state.handled_by, state.handled_at = note[:128], actor.id, now
    await session.flush()
    await record(session, actor, "alert", state.id, "handled", None, {"lot_id": lot_id, "note": note})
    return state
