"""Alert cards: the same wording as the on-demand 临期 / 缺货 cards, with the buttons a receiver acts on."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from bot.cards import low_stock_quantities, near_expiry_card, new_card_id, packs_text, write_off_text
from bot.model import Button, ButtonStyle, Card, Table, Text, Tone
from core.alerts import ALERT_NAMES_ZH, AlertKind, AlertState, Destination, Finding
from core.approval import WaitingFor
from core.catalog import product_label
from core.models import Role
from core.purchasing import SuggestedLine
from core.quantity import format_money
from core.reports import DailySummary, SalesRow
from core.stock import ExpiringLot, LowStockRow

MAX_ROWS = 30  # a card stays readable on a phone; the 缺货 command lists everything
MAX_PURCHASE_BUTTONS = 4
PURCHASE_ROLES = {Role.PURCHASER.value, Role.MANAGER.value, Role.OWNER.value, Role.ADMIN.value}


def low_stock_alert(
    findings: Sequence[Finding],
    destination: Destination,
    suppliers: Mapping[int, str],
    default_warehouse_id: int | None,
    suggested: Mapping[int, SuggestedLine],
    units: Mapping[int, Mapping[str, Decimal]],
) -> Card:
    """One card for every product low where this receiver looks; for those who buy, the reorder suggestion
    in whole purchase units (`suggested`, by product; "-" when nothing is to be bought: already on order,
    or a warehouse low while the company as a whole is not) and 生成采购单 per supplier."""
    buyer = destination.kind != "role" or destination.id in PURCHASE_ROLES
    shown = findings[:MAX_ROWS]
    rows = []
    for finding in shown:
        row = finding.row
        assert isinstance(row, LowStockRow)
        line = suggested.get(row.product_id)
        rows.append(
            (product_label(row), finding.warehouse_name, *low_stock_quantities(row, units.get(row.product_id, {})))
            + ((packs_text(line.unit_quantity, line.unit, line.quantity, row.base_unit) if line else "-",) if buyer else ())
        )
    products = {finding.product_id for finding in findings}
    notes = [] if len(findings) <= MAX_ROWS else [f"另有 {len(findings) - MAX_ROWS} 项，发“缺货”查看全部"]
    buttons: list[Button] = []
    if buyer:
        by_supplier: dict[int, int | None] = {}
        unsupplied = []
        for finding in findings:
            row = finding.row
            assert isinstance(row, LowStockRow)
            if row.preferred_supplier_id is None:
                unsupplied.append(product_label(row))
            elif by_supplier.get(row.preferred_supplier_id) is None:
                by_supplier[row.preferred_supplier_id] = finding.warehouse_id or default_warehouse_id
        for supplier_id, warehouse_id in list(by_supplier.items())[:MAX_PURCHASE_BUTTONS]:
            label = "生成采购单" if len(by_supplier) == 1 else f"生成采购单 · {suppliers.get(supplier_id, supplier_id)}"
            value = {"supplier_id": str(supplier_id), "warehouse_id": str(warehouse_id or "")}
            buttons.append(Button(label, "alert.purchase", value, ButtonStyle.PRIMARY))
        if unsupplied:
            notes.append(f"未指定供应商，请用“采购”手动下单: {'、'.join(sorted(set(unsupplied))[:5])}")
    return Card(
        card_id=new_card_id("alert-low"),
        title=f"缺货提醒 · {len(products)} 个商品低于安全库存",
        tone=Tone.WARNING,
        tables=(Table(("商品", "仓库", "可用", "安全库存", "缺口") + (("建议采购",) if buyer else ()), tuple(rows)),),
        note="\n".join(notes),
        buttons=tuple(buttons),
    )


def near_expiry_alert(findings: Sequence[Finding], today: date, units: Mapping[int, Mapping[str, Decimal]]) -> Card:
    """The 临期提醒 card of the 临期 command (its buttons included), first page, for the alert's lots. Its
    下一页 pages through those lots only, which the job keeps under the card's id when there is more than a
    page (bot.handlers.alerts.remember_expiry_list)."""
    lots = [finding.row for finding in findings]
    assert all(isinstance(lot, ExpiringLot) for lot in lots)
    card_id = new_card_id("alert-expiry")
    return dataclasses.replace(near_expiry_card(lots, today, units, list_key=card_id), card_id=card_id)  # type: ignore[arg-type]


def recovered_text(kind: AlertKind, states: Sequence[AlertState]) -> Text:
    """Short on purpose: the good news needs no card."""
    what = "已回到安全库存以上" if kind == AlertKind.LOW_STOCK else "已无库存，不再提醒"
    labels = "、".join(state.label for state in states[:MAX_ROWS])
    more = f" 等 {len(states)} 项" if len(states) > MAX_ROWS else ""
    return Text(f"已恢复 · {ALERT_NAMES_ZH[kind]}: {labels}{more} {what}")


def digest_card(
    summary: DailySummary,
    waiting: Sequence[WaitingFor],
    open_sales_orders: int,
    low_stock_count: int,
    expiring: Sequence[ExpiringLot],
    top_sellers: Sequence[tuple[SalesRow, str]],  # with the quantity as said: 10箱
    *,
    costs: bool,
) -> Card:
    """The manager's end of day: money, what waits for whom, what needs attention tomorrow. Margins and
    the amounts of purchase orders only with `costs` (`routing.shows_costs_to`)."""
    expired = sum(1 for lot in expiring if lot.expired)
    fields = [("销售额", format_money(summary.revenue))]
    if costs and summary.margin is not None:
        rate = f"（{summary.margin / summary.revenue:.1%}）" if summary.revenue else ""
        fields.append(("毛利", f"{format_money(summary.margin)}{rate}"))
    fields += [
        ("新订单", f"{summary.orders_created} 张 {format_money(summary.order_value)}"),
        ("发货", f"{summary.shipments} 次"),
        ("待发货订单", f"{open_sales_orders} 张"),
        ("待审批采购单", f"{len(waiting)} 张"),
        ("缺货", f"{low_stock_count} 个商品"),
        ("临期 / 已过期", f"{len(expiring) - expired} / {expired} 个批次"),
    ]
    if summary.write_offs:
        fields.append(("今日报损", write_off_text(summary, costs=costs)))
    tables = []
    if top_sellers:
        tables.append(
            Table(("畅销商品", "数量", "销售额"),
                  tuple((row.label, sold, format_money(row.revenue)) for row, sold in top_sellers))
        )
    if waiting:
        tables.append(Table(("待审批", "等谁"), tuple((w.number, _waiting_whom(w, costs)) for w in waiting[:10])))
    return Card(
        card_id=new_card_id("digest"),
        title=f"今日经营日报 · {summary.day:%m月%d日}",
        tone=Tone.INFO,
        fields=tuple(fields),
        tables=tuple(tables),
    )


def _waiting_whom(waiting: WaitingFor, costs: bool) -> str:
    amount = f"{format_money(waiting.total)} · " if costs else ""
    return f"{amount}第{waiting.step_no}/{waiting.steps}步 · " + (
        "、".join(user.name for user in waiting.users) or "无人可批"
    )
