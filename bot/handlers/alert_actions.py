"""Buttons on the scheduler's alert cards: 生成采购单 on low stock, 查看批次 / 标记处理 on near expiry.

生成采购单 turns the reorder suggestion of the card's supplier into a draft for the person pressing, shown
with 提交审批 (or typed: bot.handlers.drafts), which sends the approval card through the same path as the `采购`
command. 标记处理 records how a lot is being dealt with (促销, 退货 or a typed note), which stops its daily
repeats; the alert log lives in core.alerts. Its 报损 opens the write-off of the lot (bot.handlers.writeoffs) for those who may
book one, and is a note like the others for those who may not.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import EXPIRY_PAGE_SIZE, choice_card, new_card_id, product_label
from bot.handlers.alerts import ALERT_VIEWERS
from bot.handlers.purchases import draft_card, remember_draft
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, Tone
from bot.turn import Turn
from core.alerts import AlertState, lot_subject, mark_handled
from core.catalog import in_units, units_by_product
from core.documents import PURCHASE_STATUS_ZH, PurchaseOrder, PurchaseOrderStatus
from core.errors import InvalidInput
from core.models import Lot, Product, Warehouse
from core.purchasing import PURCHASING_ROLES, order_suggestion
from core.users import has_role, require_role
from core.writeoffs import WRITE_OFF_ROLES

QUICK_NOTES = ("促销", "退货", "报损")
MAX_LOT_BUTTONS = EXPIRY_PAGE_SIZE  # a button for each lot on a near-expiry card's page
NOTE_FLOW = "alert.note"


def _ids(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part]
    except ValueError:
        raise InvalidInput("按钮数据不对，请重新发“临期”查看") from None


GENERATED_TTL_SECONDS = 7 * 24 * 3600  # an alert card stays on screen for days


def _generated_key(action: CardAction, supplier_id: int) -> str:
    return f"alert-po:{action.card_id}:{supplier_id}"


async def purchase(turn: Turn, action: CardAction) -> None:
    """生成采购单: a draft of the supplier's reorder suggestion for the person pressing, shown with 提交审批.

    A second press on the same card shows the draft it made (the store remembers it per card and
    supplier) unless that draft was cancelled; a press on another card finds the shortfall already on
    order (core.purchasing).
    """
    require_role(turn.user, PURCHASING_ROLES, "生成采购单")
    supplier_id, warehouse_id = _ids(action.value.get("supplier_id", "")), _ids(action.value.get("warehouse_id", ""))
    if len(supplier_id) != 1 or len(warehouse_id) != 1:
        raise InvalidInput("按钮数据不对，请发“缺货”重新查看")
    key = _generated_key(action, supplier_id[0])
    made = await turn.services.store.get(key)
    clock = turn.clock()
    if made is not None:
        order_id, by = json.loads(made)

        async def again(session: AsyncSession) -> tuple[PurchaseOrder, Card]:
            order = await session.get(PurchaseOrder, order_id)
            assert order is not None
            return order, await draft_card(session, order, clock)

        order, card = await turn.lookup(again)
        if order.status != PurchaseOrderStatus.CANCELLED:
            status = PURCHASE_STATUS_ZH[order.status]
            turn.say(Text(f"这张提醒已由 {by} 生成采购单 {order.number}（{status}），不再重复生成。"))
            if by == turn.user.name:
                turn.say_with_costs(card, notice=f"采购单草稿含进价，已私信发给 {turn.user.name}。")
                if order.status == PurchaseOrderStatus.DRAFT:
                    await remember_draft(turn, order_id)
            return

    async def work(session: AsyncSession) -> tuple[int, Card]:
        order = await order_suggestion(
            session, turn.user, supplier_id=supplier_id[0], warehouse_id=warehouse_id[0], clock=clock
        )
        await session.flush()
        return order.id or 0, await draft_card(session, order, clock)

    order_id, card = await turn.transact(work)
    await turn.services.store.set(key, json.dumps([order_id, turn.user.name]), GENERATED_TTL_SECONDS)
    await remember_draft(turn, order_id)
    turn.say_with_costs(
        Text("已按补货建议生成采购单草稿，核对后点“提交审批”。"), card,
        notice=f"已按补货建议生成采购单草稿，含进价，已私信发给 {turn.user.name}，核对后点“提交审批”。",
    )


LotRow = tuple[Lot, Product, str, AlertState | None]  # the lot, its product, its warehouse's name, its alert


async def _lots(session: AsyncSession, lot_ids: list[int]) -> list[LotRow]:
    rows = await session.execute(
        select(Lot, Product, Warehouse.name)
        .join(Product, col(Product.id) == Lot.product_id)
        .join(Warehouse, col(Warehouse.id) == Lot.warehouse_id)
        .where(col(Lot.id).in_(lot_ids))
        .order_by(col(Lot.expiry_date), col(Lot.id))
    )
    states = {
        state.subject: state
        for state in (
            await session.scalars(select(AlertState).where(col(AlertState.subject).in_([lot_subject(i) for i in lot_ids])))
        ).all()
    }
    return [(lot, product, name, states.get(lot_subject(lot.id or 0))) for lot, product, name in rows.all()]


def _lot_label(lot: Lot, product: Product) -> str:
    return f"{product_label(product)} {lot.lot_no}" if lot.lot_no else product_label(product)


async def view_lots(turn: Turn, action: CardAction) -> None:
    """查看批次: each lot of the alert now, with how it is being handled."""
    require_role(turn.user, ALERT_VIEWERS, "查看临期批次")
    today = turn.now().date()
    async def read(session: AsyncSession) -> tuple[list[LotRow], dict[int, dict[str, Decimal]]]:
        lots = await _lots(session, _ids(action.value.get("lot_ids", "")))
        return lots, await units_by_product(session, (lot.product_id for lot, *_ in lots))

    found, units = await turn.lookup(read)
    if not found:
        turn.say(Text("这些批次已经没有了。"))
        return
    rows = tuple(
        (
            product_label(product),
            warehouse,
            lot.lot_no or "-",
            "-" if lot.production_date is None else f"{lot.production_date:%Y-%m-%d}",
            "-" if lot.expiry_date is None else f"{lot.expiry_date:%Y-%m-%d}",
            _days_left(lot, today),
            in_units(lot.on_hand, product.base_unit, units.get(lot.product_id, {})),
            in_units(lot.on_hand - lot.reserved, product.base_unit, units.get(lot.product_id, {})),
            state.handled_note if state and state.handled_at else "未处理",
        )
        for lot, product, warehouse, state in found
    )
    buttons = tuple(
        Button(f"标记处理 {_lot_label(lot, product)}", "alert.handle", {"lot_ids": str(lot.id)})
        for lot, product, _, state in found[:MAX_LOT_BUTTONS]
        if lot.on_hand > 0 and not (state and state.handled_at)
    )
    turn.say(
        Card(
            card_id=new_card_id("lots"),
            title=f"临期批次 · {len(found)} 个",
            tone=Tone.WARNING,
            tables=(Table(("商品", "仓库", "批次", "生产日期", "到期", "剩余", "在库", "可用", "处理"), rows),),
            buttons=buttons,
        )
    )


def _days_left(lot: Lot, today: Any) -> str:
    if lot.expiry_date is None:
        return "-"
    days = (lot.expiry_date - today).days
    return "已过期" if days < 0 else f"{days}天"


async def handle(turn: Turn, action: CardAction) -> None:
    """标记处理: which lot (when the card has several), then how: a quick choice or a typed note."""
    require_role(turn.user, ALERT_VIEWERS, "标记临期批次")
    found = await turn.lookup(lambda session: _lots(session, _ids(action.value.get("lot_ids", ""))))
    open_lots = [(lot, product) for lot, product, _, state in found if lot.on_hand > 0]
    if not open_lots:
        turn.say(Text("这些批次已经没有库存，不用处理了。"))
        return
    if len(open_lots) > 1:
        choices = [
            ((_lot_label(lot, product),), Button(_lot_label(lot, product), "alert.handle", {"lot_ids": str(lot.id)}))
            for lot, product in open_lots[:MAX_LOT_BUTTONS]
        ]
        turn.say(choice_card("标记处理哪个批次？", ("批次",), choices))
        return
    lot, product = open_lots[0]
    books_write_offs = has_role(turn.user, WRITE_OFF_ROLES)
    await turn.services.conversations.set(turn.origin, {"flow": NOTE_FLOW, "lot_id": lot.id})
    turn.say(
        Card(
            card_id=new_card_id("handle-lot"),
            title=f"标记处理 · {_lot_label(lot, product)}",
            tone=Tone.INFO,
            note="点一个处理方式，或直接回复说明（例如：退回供应商 20 箱）。",
            buttons=tuple(
                Button(note, "writeoff.lot", {"lot_id": str(lot.id)}, ButtonStyle.DANGER)
                if note == "报损" and books_write_offs
                else Button(note, "alert.mark", {"lot_id": str(lot.id), "note": note}, ButtonStyle.PRIMARY)
                for note in QUICK_NOTES
            ),
        )
    )


async def _mark(turn: Turn, lot_id: int, note: str) -> None:
    require_role(turn.user, ALERT_VIEWERS, "标记临期批次")
    note = note.strip()
    if not note:
        raise InvalidInput("请写明处理方式，例如：促销、退货、报损")
    today, now = turn.now().date(), turn.clock().now()

    async def work(session: AsyncSession) -> str:
        await mark_handled(session, turn.user, lot_id, note, today, now)
        lot = await session.get(Lot, lot_id)
        product = await session.get(Product, lot.product_id) if lot else None
        label = _lot_label(lot, product) if lot and product else str(lot_id)
        return f"已标记 {label}：{note}。这个批次不再每天提醒（过期时会再提醒一次）。"

    await turn.services.conversations.clear(turn.origin)
    turn.say(Text(await turn.transact(work)))


async def mark(turn: Turn, action: CardAction) -> None:
    lot_ids = _ids(action.value.get("lot_id", ""))
    if len(lot_ids) != 1:
        raise InvalidInput("按钮数据不对，请重新发“临期”查看")
    await _mark(turn, lot_ids[0], action.value.get("note", ""))


async def continue_note(turn: Turn, state: dict[str, Any], text: str) -> bool:
    """A typed note for the lot being marked."""
    await _mark(turn, int(state["lot_id"]), text[:128])
    return True
