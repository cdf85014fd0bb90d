"""Neutral cards built from core results, worded in Chinese as people in a shop say things.

Who sees what is decided here: salespeople see available quantities and sale prices, never costs or
margins; staff see warehouses, lots and expiry dates. Costs, purchase prices, purchase values and
margins are shown only where `shows_costs` allows: never in a group, whoever asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeGuard

from sqlalchemy import CompoundSelect, Result, bindparam, literal, null, union_all
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.model import Button, ButtonStyle, Card, Reply, Table, Tone
from core.catalog import describe_quantity, in_units, product_label
from core.models import Barcode, Product, ProductUnit, Role, User
from core.purchasing import SuggestedLine, SupplierSuggestion
from core.quantity import format_money, format_quantity
from core.reports import DailySummary
from core.stock import ExpiringLot, LowStockRow, ProductStock
from core.users import ROLE_NAMES_ZH, can_see_costs

STAFF_ROLES = frozenset({Role.WAREHOUSE, Role.PURCHASER, Role.MANAGER, Role.OWNER, Role.ADMIN})
MAX_PICK_BUTTONS = 8
# Lots on one page of a near-expiry card, which its buttons act on: its table stays one WeCom message (2048
# bytes) and a DingTalk card variable, and 标记处理 can offer each of them (bot.handlers.alert_actions).
EXPIRY_PAGE_SIZE = 10
MAX_PURCHASE_BUTTONS = 4


def shows_costs(viewer: User, *, in_group: bool) -> bool:
    """Whether a reply may show costs, purchase prices, purchase values and margins: only in a direct chat
    with someone whose role may see them. A group may hold salespeople, so what is said there never does."""
    return not in_group and can_see_costs(viewer)


def new_card_id(kind: str) -> str:
    return f"{kind}:{uuid.uuid4().hex[:16]}"


def decided_status(verb: str, who: str, at: datetime) -> str:
    """The line that replaces a card's buttons once decided: "已批准 · 李四 · 10:42"."""
    return f"{verb} · {who} · {at:%H:%M}"


def expired_text() -> str:
    return "这张卡片已过期，请重新发起。"


# Built once: a stock card only binds the product id (no statement built, compiled or hashed per card).
_UNITS_AND_CODES: CompoundSelect[tuple[str, str, Any, int]] = union_all(
    select_columns(literal("u"), col(ProductUnit.name), col(ProductUnit.factor), col(ProductUnit.id)).where(
        col(ProductUnit.product_id) == bindparam("product_id")
    ),
    select_columns(literal("b"), col(Barcode.code), null(), col(Barcode.id)).where(
        col(Barcode.product_id) == bindparam("product_id")
    ),
)


async def units_and_codes(session: AsyncSession, product_id: int) -> tuple[dict[str, Decimal], list[str]]:
    """A product's extra units (name → factor) and its barcodes, in one statement."""
    rows: Result[str, str, Any, int] = await session.execute(_UNITS_AND_CODES, {"product_id": product_id})
    units: dict[str, Decimal] = {}
    codes: list[str] = []
    for kind, name, factor, _ in sorted(rows.all(), key=lambda row: (row[0], row[3])):
        if kind == "u":
            units[name] = Decimal(factor)
        else:
            codes.append(name)
    return units, codes


async def stock_card(session: AsyncSession, viewer: User, stock: ProductStock, *, costs: bool) -> Card:
    """The product's stock as `viewer` may see it; its average cost only with `costs` (`shows_costs`)."""
    product = stock.product
    staff = viewer.role in STAFF_ROLES
    fields: list[tuple[str, str]] = [("编码", product.sku)]
    units, codes = await units_and_codes(session, product.id or 0)

    async def amount(quantity: Decimal) -> str:
        return await describe_quantity(session, product, quantity, units=units)

    if codes:
        fields.append(("条码", "、".join(codes)))
    fields.append(("可用", await amount(stock.available)))
    if staff:
        fields.append(("在库", await amount(stock.on_hand)))
        if stock.reserved:
            fields.append(("已预留", await amount(stock.reserved)))
        if stock.expired_unreserved:
            fields.append(("已过期", await amount(stock.expired_unreserved)))
    fields.append(("售价", f"{format_money(product.sale_price)}/{product.base_unit}"))
    if costs:
        fields.append(("成本", f"{format_money(product.avg_cost.quantize(product.sale_price))}/{product.base_unit}"))

    rows: list[tuple[str, ...]] = []
    if staff:
        for warehouse in stock.warehouses:
            for lot in warehouse.lots:
                rows.append(
                    (
                        warehouse.warehouse_name,
                        lot.lot_no or "-",
                        _date(lot.expiry_date) + (" 已过期" if lot.expired else ""),
                        await amount(lot.on_hand),
                        await amount(lot.available),
                    )
                )
        table = Table(("仓库", "批次", "到期", "在库", "可用"), tuple(rows))
    else:
        rows = [(w.warehouse_name, await amount(w.available)) for w in stock.warehouses]
        table = Table(("仓库", "可用"), tuple(rows))

    low = product.safety_stock > 0 and stock.available < product.safety_stock
    return Card(
        card_id=new_card_id("stock"),
        title=f"库存 · {product_label(product)}",
        tone=Tone.WARNING if low or stock.available <= 0 else Tone.INFO,
        fields=tuple(fields),
        tables=(table,) if rows else (),
        note="暂无库存" if not rows else ("低于安全库存，请留意补货" if low else ""),
        buttons=stock_buttons(viewer, product),
    )


def stock_buttons(viewer: User, product: Product) -> tuple[Button, ...]:
    """The next steps the viewer's role allows from a product card."""
    value = {"product_id": str(product.id)}
    buttons: list[Button] = []
    if viewer.role in (Role.SALES, Role.MANAGER, Role.OWNER, Role.ADMIN):
        buttons.append(Button("下单", "order.start", value, ButtonStyle.PRIMARY))
    if viewer.role in (Role.WAREHOUSE, Role.MANAGER, Role.ADMIN):
        buttons.append(Button("入库", "receive.start", value))
        buttons.append(Button("盘点", "count.start", value))
    if viewer.role in (Role.PURCHASER, Role.MANAGER):
        buttons.append(Button("采购", "purchase.start", value))
    return tuple(buttons)


def pick_card(query: str, products: Sequence[Product], action: str = "stock.pick") -> Card:
    """Products to choose from (the first `MAX_PICK_BUTTONS`), as a `choice_card`."""
    shown = products[:MAX_PICK_BUTTONS]
    return choice_card(
        f"“{query}”找到 {len(products)} 个商品，请选一个",
        ("编码", "名称"),
        [((p.sku, product_label(p)), Button(product_label(p), action, {"product_id": str(p.id)})) for p in shown],
        more="；结果较多，可以把名称写得更完整些" if len(products) > MAX_PICK_BUTTONS else "",
    )


def choice_card(title: str, columns: tuple[str, ...], choices: Sequence[tuple[tuple[str, ...], Button]], more: str = "") -> Card:
    """One of several to choose, numbered: a row number typed instead of a press chooses it too
    (`bot.handlers.drafts.pick_row`), where a platform shows fewer buttons (DingTalk 4, WeCom 6)."""
    return Card(
        card_id=new_card_id(PICK_KIND),
        title=title,
        tone=Tone.INFO,
        tables=(Table(("序号", *columns), tuple((str(n), *row) for n, (row, _button) in enumerate(choices, 1))),),
        buttons=tuple(button for _row, button in choices),
        note=f"点按钮，或回复序号（如 1）{more}",
    )


PICK_KIND = "pick"


def is_pick_card(reply: Reply) -> TypeGuard[Card]:
    return isinstance(reply, Card) and reply.card_id.startswith(PICK_KIND + ":")


ECHO_CHARACTERS = 20


def echo(text: str) -> str:
    """What the person typed, quoted back short: a pasted page is not answered with itself."""
    return text if len(text) <= ECHO_CHARACTERS else text[:ECHO_CHARACTERS] + "…"


def not_found_text(query: str, closest: Sequence[Product]) -> str:
    if not closest:
        return f"没有找到“{echo(query)}”。可以试试商品全名、拼音首字母（如 kkkl）或扫条码。"
    return f"没有找到“{echo(query)}”。您要找的是不是: {'、'.join(product_label(p) for p in closest)}？"


def expiry_position(lot: ExpiringLot) -> str:
    """Where a lot stands in a near-expiry list (`core.stock.near_expiry` orders by expiry, then lot id): the
    value a 下一页 button carries, so the next page starts after the last lot shown, however the list moved."""
    return f"{lot.expiry_date.isoformat()}:{lot.lot_id}"


def lots_before(rows: Sequence[ExpiringLot], position: str) -> int:
    """How many of `rows` stand at or before `position` (`expiry_position`): where the next page starts.
    ValueError when `position` is not one."""
    day, _, lot_id = position.partition(":")
    key = (date.fromisoformat(day), int(lot_id))
    return sum(1 for row in rows if (row.expiry_date, row.lot_id) <= key)


def near_expiry_card(
    rows: Sequence[ExpiringLot],
    today: date,
    units: Mapping[int, Mapping[str, Decimal]],
    *,
    start: int = 0,
    list_key: str = "",
) -> Card:
    """One page of the lots by expiry, `EXPIRY_PAGE_SIZE` from `start`, each quantity in its product's packs
    as the stock card says it (`units`: by product, from `core.catalog.units_by_product`), with 查看批次 /
    标记处理 for the lots on the page (bot.handlers.alert_actions): asked for or pushed by the scheduler, the
    list is there to be acted on, so a longer one has 下一页 (`alert.page`, carrying `list_key`: which list,
    "" for every near-expiry lot). The counts are the whole list's."""
    page = rows[start : start + EXPIRY_PAGE_SIZE]
    table = Table(
        ("商品", "仓库", "批次", "到期", "剩余", "数量"),
        tuple(
            (
                product_label(r),
                r.warehouse_name,
                r.lot_no or "-",
                _date(r.expiry_date),
                "已过期" if r.expired else f"{r.days_left}天",
                in_units(r.on_hand, r.base_unit, units.get(r.product_id, {})),
            )
            for r in page
        ),
    )
    expired = sum(1 for r in rows if r.expired)
    value = {"lot_ids": ",".join(str(r.lot_id) for r in page)}
    buttons = [Button("查看批次", "alert.lots", value), Button("标记处理", "alert.handle", value, ButtonStyle.PRIMARY)]
    note = "处理后请点“标记处理”，写明促销、退货或报损"
    if len(rows) > EXPIRY_PAGE_SIZE:
        pages = -(-len(rows) // EXPIRY_PAGE_SIZE)
        number = start // EXPIRY_PAGE_SIZE + 1
        more = start + len(page) < len(rows)
        where = f"第 {number}/{pages} 页，共 {len(rows)} 个批次，按钮只对本页的批次" + ("，后面的请点“下一页”" if more else "")
        note = f"{where}\n{note}"
        if more:
            buttons.append(Button("下一页", "alert.page", {"after": expiry_position(page[-1]), "list": list_key}))
    return Card(
        card_id=new_card_id("expiry"),
        title=f"临期提醒 · {today:%m月%d日}",
        tone=Tone.DANGER if expired else Tone.WARNING,
        fields=(("临期批次", str(len(rows) - expired)), ("已过期", str(expired))),
        tables=(table,),
        note=note,
        buttons=tuple(buttons),
    )


def packs_text(unit_quantity: Decimal, unit: str, quantity: Decimal, base_unit: str) -> str:
    """A quantity in the unit it is bought in, with the base units when they differ: "3箱 (72瓶)"."""
    if unit == base_unit:
        return f"{_plain(quantity)}{base_unit}"
    return f"{_plain(unit_quantity)}{unit} ({_plain(quantity)}{base_unit})"


BUYER_ROLES = frozenset({Role.PURCHASER, Role.MANAGER, Role.OWNER, Role.ADMIN})


def low_stock_card(
    rows: Sequence[LowStockRow],
    viewer: User,
    units: Mapping[int, Mapping[str, Decimal]],
    suggestions: Sequence[SupplierSuggestion] = (),
    warehouse_id: int | None = None,
) -> Card:
    """Products below safety stock, quantities in packs (`units` as for `near_expiry_card`); buyers also see
    the reorder suggestion in whole purchase units and a 生成采购单 button per preferred supplier (products
    without one keep a 采购 button that asks)."""
    buyer = viewer.role in BUYER_ROLES
    suggested = {line.product_id: line for group in suggestions for line in group.lines}
    header = ("商品", "可用", "安全库存", "缺口") + (("建议采购",) if buyer else ())
    table = Table(
        header,
        tuple(
            (product_label(r), *low_stock_quantities(r, units.get(r.product_id, {})))
            + ((_suggestion_text(suggested.get(r.product_id)),) if buyer else ())
            for r in rows
        ),
    )
    buttons: list[Button] = []
    if buyer and warehouse_id is not None:
        by_supplier = [group for group in suggestions if group.supplier_id is not None]
        for group in by_supplier[:MAX_PURCHASE_BUTTONS]:
            label = "生成采购单" if len(by_supplier) == 1 else f"生成采购单 · {group.supplier_name}"
            value = {"supplier_id": str(group.supplier_id), "warehouse_id": str(warehouse_id)}
            buttons.append(Button(label, "alert.purchase", value, ButtonStyle.PRIMARY))
    if buyer:
        unsupplied = [line for group in suggestions if group.supplier_id is None for line in group.lines]
        buttons += [
            Button(f"采购 {product_label(line)}", "purchase.start", {"product_id": str(line.product_id)})
            for line in unsupplied[: max(MAX_PURCHASE_BUTTONS - len(buttons), 0)]
        ]
    return Card(
        card_id=new_card_id("low"),
        title=f"缺货提醒 · {len(rows)} 个商品低于安全库存",
        tone=Tone.WARNING,
        tables=(table,),
        note="建议采购 = 补到最高库存，扣除已在途，按整箱取整" if buyer else "",
        buttons=tuple(buttons),
    )


def low_stock_quantities(row: LowStockRow, units: Mapping[str, Decimal]) -> tuple[str, str, str]:
    """可用, 安全库存, 缺口 in packs, as the stock card says them (the suggestion beside them has the count)."""
    available, safety_stock, shortage = (
        in_units(quantity, row.base_unit, units) for quantity in (row.available, row.safety_stock, row.shortage)
    )
    return available, safety_stock, shortage


def _suggestion_text(line: SuggestedLine | None) -> str:
    if line is None:
        return "已在途"
    return packs_text(line.unit_quantity, line.unit, line.quantity, line.base_unit)


_HELP_BY_ROLE: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.SALES: (("查库存", "库存 可乐 / 查 6901234567890"), ("下单", "下单 华联 可乐 10箱，雪碧 5瓶"),
                 ("退货", "退货 SO-20261122-0001 可乐 2箱 破损"), ("收款 / 欠款", "收款 华联 5000 转账 / 欠款 华联"),
                 ("今日销售", "今日销售")),
    Role.WAREHOUSE: (("查库存", "库存 可乐 / 发一张条码照片"), ("入库", "入库 PO-20261122-0003"),
                     ("发货", "发货 SO-20261122-0001"), ("盘点", "盘点 可乐 118"),
                     ("调拨", "调拨 可乐 20箱 主仓 到 门店"), ("报损", "报损 可乐 5罐 破损"),
                     ("退货", "退货 SO-20261122-0001 可乐 2箱 / 退货 PO-20261122-0003 可乐 2箱"), ("临期", "临期")),
    Role.PURCHASER: (("查库存", "库存 可乐"), ("采购", "采购 可乐 200箱 供应商 太古"), ("缺货", "缺货"),
                     ("采购退货 / 应付", "退货 PO-20261122-0003 可乐 2箱 / 应付 太古")),
}
_HELP_ALL = (
    ("查库存", "库存 可乐 / 查 6901234567890"),
    ("下单", "下单 华联 可乐 10箱，雪碧 5瓶"),
    ("采购", "采购 可乐 200箱 供应商 太古"),
    ("待审批", "待审批"),
    ("入库 / 发货 / 结单", "入库 PO-… / 发货 SO-… / 结单 SO-…"),
    ("盘点 / 调拨 / 报损", "盘点 可乐 118 / 调拨 可乐 20 主仓 到 门店 / 报损 可乐 5罐 破损 / 撤销报损 BS-…"),
    ("退货", "退货 SO-… 可乐 2箱 破损（客户退货）/ 退货 PO-… 可乐 2箱（退给供应商）"),
    ("收款 / 付款", "收款 华联 5000 转账 / 付款 太古 3000"),
    ("欠款 / 应付", "欠款 / 欠款 华联 / 应付 / 应付 太古"),
    ("提醒与报表", "临期 / 缺货 / 今日销售"),
)


def write_off_text(summary: DailySummary, *, costs: bool) -> str:
    """"2 次，¥36.50": what was written off today, its value only where costs may be shown."""
    value = f"，{format_money(summary.write_off_value)}" if costs and summary.write_off_value is not None else ""
    return f"{summary.write_offs} 次{value}"


def help_lines(role: Role) -> tuple[tuple[str, str], ...]:
    """(what, how to say it) for a role: the help card's lines, and the console's welcome."""
    lines = _HELP_BY_ROLE.get(role, _HELP_ALL)
    if role == Role.ADMIN:
        lines = (*lines, ("绑定同事", "绑定 @某人 仓管"), ("告警路由", "告警路由 / 告警路由 添加 缺货 主仓 本群"))
    return lines


def help_card(viewer: User, intro: str = "") -> Card:
    lines = help_lines(viewer.role)
    return Card(
        card_id=new_card_id("help"),
        title="psibot 可以帮您",
        tone=Tone.NEUTRAL,
        fields=tuple(lines),
        note=intro or f"您好，{viewer.name}（{ROLE_NAMES_ZH[viewer.role]}）。直接打字即可，群里请先 @我。",
    )


def _date(value: date | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d}"


def _plain(value: Decimal) -> str:
    return format_quantity(value)
