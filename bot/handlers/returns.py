"""退货 from chat: `退货 SO-… 可乐 2箱 [原因 破损]` takes a customer's goods back, `退货 PO-… 可乐 2箱` sends goods
back to the supplier (the document may also be one delivery of the order: SH-…, GR-…).

As for 报损, nothing is booked on the first message: a card shows what would come back (or leave), through
which delivery, warehouse and lot (core's plan, `core.returns`: the latest delivery first), what it credits to
the partner's account with the balance before and after, and, to those who may see costs, what the goods cost.
Only its maker's 确认退货 books exactly that, once, in one transaction with the card's update. A return to the
supplier is worth purchase prices, so its card goes to the maker's direct chat when asked in a group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import decided_status, echo, new_card_id, product_label
from bot.handlers.common import HeldCards, base_quantity, find_line
from bot.model import Button, ButtonStyle, Card, CardAction, Table, Text, Tone
from bot.outbox import enqueue_card_update, enqueue_for_users
from bot.parser import USAGE, ItemText, QuantityText, ReturnGoods, ReturnWithoutDocument
from bot.turn import Turn
from core.accounts import customer_balance, supplier_balance
from core.catalog import describe_quantity, get_product
from core.documents import PurchaseReturn, SalesReturn
from core.errors import InvalidInput
from core.models import ZERO, Lot, Product, Warehouse
from core.quantity import format_money
from core.returns import (
    DEFAULT_REASON,
    ReturnKind,
    ReturnSource,
    ReturnTake,
    book_return,
    plan_return,
    require_return_role,
    return_kind,
    return_source,
)

HELD = HeldCards("return", busy="这张退货正在处理，请稍候。")
# Reasons that say the goods came back unfit to sell: they are back in stock, so the card says to write them off.
UNFIT = ("破损", "损坏", "变质", "过期", "霉变", "漏液", "胀袋", "包装破损", "damaged", "expired")
_PARTNER = {"sales": "客户", "purchase": "供应商"}


@dataclass(frozen=True, slots=True)
class Pending:
    """A shown return, kept by its card until its maker confirms or cancels it."""

    kind: str  # ReturnKind
    number: str  # the document as named (SO-…, SH-…, PO-…, GR-…)
    takes: tuple[tuple[int, str, str, str], ...]  # (delivered line id, base quantity, amount, cost) as Decimal strings
    reason: str  # "": core's default
    balance: str  # the partner's balance when shown
    owner_id: int
    owner: str

    @property
    def return_kind(self) -> ReturnKind:
        return "sales" if self.kind == "sales" else "purchase"

    def return_takes(self) -> list[ReturnTake]:
        return [ReturnTake(line, Decimal(q), Decimal(amount), Decimal(cost)) for line, q, amount, cost in self.takes]

    @property
    def credit(self) -> Decimal:
        return sum((Decimal(amount) for _line, _q, amount, _cost in self.takes), ZERO)


async def _pending_for(turn: Turn, card_id: str, doing: str) -> Pending | None:
    """The return behind a pressed (or typed) button if the presser made it; otherwise says why not."""
    data = await HELD.held(turn, card_id)
    if data is None:
        return None
    pending = Pending(**{**data, "takes": tuple(tuple(take) for take in data["takes"])})
    if pending.owner_id != turn.user.id:
        turn.say(Text(f"这是{pending.owner}发起的退货，只有{pending.owner}本人可以{doing}。"))
        return None
    await turn.services.conversations.remember_draft(turn.origin, card_id, HELD.ttl)
    return pending


# ---------------------------------------------------------------- what would come back


async def _product_on(
    session: AsyncSession, source: ReturnSource, item: ItemText, where: str
) -> tuple[Product, QuantityText]:
    """The product a line names, among those of the document (可乐 is the 330ml when only it was ordered), and
    its quantity."""
    found, quantity = await find_line(session, item.product, item.quantity)
    candidates = [found.product] if found.product is not None else list(found.candidates or found.closest)
    on_document = [product for product in candidates if product.id in source.products]
    if len(on_document) > 1:
        names = "、".join(product_label(p) for p in on_document[:5])
        raise InvalidInput(f"{where}“{echo(found.query)}”在{source.label} {source.number} 里对应多个商品：{names}，请写得更具体些")
    if not on_document:
        named = product_label(found.product) if found.product is not None else f"“{echo(found.query)}”"
        if not candidates:
            raise InvalidInput(f"{where}没有找到“{echo(found.query)}”")
        raise InvalidInput(f"{where}{named} 不在{source.label} {source.number} 里")
    if quantity is None:  # 可口可乐330: the digits were the name's
        raise InvalidInput(f"{where}“{echo(found.query)}”缺少数量（例：退货 {source.number} {echo(found.query)} 2箱）")
    return on_document[0], quantity


async def _plan(session: AsyncSession, turn: Turn, command: ReturnGoods, kind: ReturnKind) -> Pending:
    source = await return_source(session, command.document_no)
    takes: list[ReturnTake] = []
    several = len(command.items) > 1
    for number, item in enumerate(command.items, start=1):
        product, quantity = await _product_on(session, source, item, f"第{number}行" if several else "")
        takes += await plan_return(session, source, product.id or 0, await base_quantity(session, product, quantity), takes)
    balance = await (customer_balance if kind == "sales" else supplier_balance)(session, source.partner_id)
    return Pending(
        kind, source.number, tuple((t.line_id, str(t.quantity), str(t.amount), str(t.cost)) for t in takes),
        command.reason[:256], str(balance), turn.user.id or 0, turn.user.name,
    )


async def _card(session: AsyncSession, card_id: str, pending: Pending, *, costs: bool) -> Card:
    source = await return_source(session, pending.number)
    lines = {line.line_id: line for line in source.delivered}
    rows, warehouses, cost = [], [], ZERO
    for take in pending.return_takes():
        line = lines[take.line_id]
        product = await get_product(session, line.product_id)
        lot = await session.get(Lot, line.lot_id)
        warehouse = await session.get(Warehouse, lot.warehouse_id) if lot else None
        name = warehouse.name if warehouse else ""
        if name not in warehouses:
            warehouses.append(name)
        rows.append((
            product_label(product), line.delivery_no, name, (lot.lot_no if lot else "") or "（无批次）",
            await describe_quantity(session, product, take.quantity), format_money(take.amount),
        ))
        cost += take.cost
    sales = pending.kind == "sales"
    before = Decimal(pending.balance)
    after = before - pending.credit
    document = source.label + " " + source.number + ("" if source.number == source.order_no else f"（{source.order_no}）")
    reason = pending.reason or DEFAULT_REASON[pending.return_kind]
    fields = [
        (_PARTNER[pending.kind], source.partner),
        ("原单", document),
        ("退回" if sales else "出库", "、".join(warehouses) + "（原批次）"),
        ("原因", reason),
        ("冲减应收" if sales else "冲减应付", format_money(pending.credit)),
        ("客户欠款" if sales else "应付货款", f"{format_money(before)} → {format_money(after)}"),
    ]
    if sales and costs:
        fields.append(("成本", f"{format_money(cost)}（按出库时成本）"))
    delivery = "出库单" if sales else "入库单"
    if sales:
        note = f"确认后货退回原批次，冲减{source.partner}的应收款。"
        if any(word in reason for word in UNFIT):
            note += "退回的货会计入库存；不能再卖的，请再报损。"
    else:
        note = f"确认后货从原批次出库退给{source.partner}，冲减应付货款。"
    return Card(
        card_id=card_id,
        title=f"{'客户退货' if sales else '采购退货'}确认 · {source.partner}",
        tone=Tone.WARNING,
        fields=tuple(fields),
        tables=(Table(("商品", delivery, "仓库", "批次", "退货数量", "金额"), tuple(rows)),),
        note=note,
        buttons=(Button("确认退货", "return.confirm", {}, ButtonStyle.PRIMARY), Button("取消", "return.cancel", {})),
    )


def _private(turn: Turn, pending: Pending) -> bool:
    """A return to the supplier shows purchase prices: asked in a group, its card goes to the direct chat."""
    return pending.kind == "purchase" and not turn.shows_costs()


async def return_command(turn: Turn, command: ReturnGoods) -> None:
    kind = return_kind(command.document_no)
    require_return_role(turn.user, kind)
    # a new return: a 确认 typed next is for its card or for none, never for an older draft
    await turn.services.conversations.forget_draft(turn.origin)
    pending = await turn.lookup(lambda session: _plan(session, turn, command, kind))
    card_id = new_card_id("return")
    costs = turn.shows_costs()
    card = await turn.lookup(lambda session: _card(session, card_id, pending, costs=costs))
    if _private(turn, pending):
        await HELD.hold(turn, card_id, pending, replace(turn.origin, chat_id=turn.origin.sender_id, chat_kind="direct"))
        turn.say_with_costs(card, notice=f"采购退货按进价计，卡片已私信发给 {turn.user.name}。")
        return
    await HELD.hold(turn, card_id, pending, turn.origin)
    turn.say(card)


async def without_document(turn: Turn, _command: ReturnWithoutDocument) -> None:
    turn.say(Text(f"退货请写明原来的单号和商品数量，例如：{USAGE['return']}"))


# ---------------------------------------------------------------- the buttons


async def confirm(turn: Turn, action: CardAction) -> None:
    await _confirm(turn, action.card_id, action)


async def confirm_typed(turn: Turn, card_id: str) -> None:
    await _confirm(turn, card_id, None)


async def _confirm(turn: Turn, card_id: str, action: CardAction | None) -> None:
    """确认退货, pressed (`action`) or typed: the shown lines booked, the card updated, the partner's balance said."""
    pending = await _pending_for(turn, card_id, "确认")
    if pending is None:
        return
    clock = turn.clock()
    sales = pending.kind == "sales"

    async def work(session: AsyncSession) -> tuple[str, str]:
        card = await _card(session, card_id, pending, costs=False)  # read before the lines change
        documents = await book_return(
            session, turn.user, pending.return_kind, pending.return_takes(), reason=pending.reason, clock=clock
        )
        await session.flush()
        numbers = "、".join(dict.fromkeys(d.number for d in documents))
        status = decided_status(f"已退货 {numbers}", turn.user.name, turn.now())
        done = replace(card, title=f"退货单 {numbers} · {card.title.partition(' · ')[2]}", tone=Tone.NEUTRAL,
                       note="", buttons=(), status=status)
        await enqueue_card_update(session, done, action)
        what = []
        for document in documents:
            product = await get_product(session, document.product_id)
            what.append(f"{product_label(product)} {await describe_quantity(session, product, document.quantity)}")
        partner = dict(card.fields)[_PARTNER[pending.kind]]
        credit = sum((d.amount for d in documents), ZERO)
        if sales:
            first = documents[0]
            assert isinstance(first, SalesReturn)
            balance = await customer_balance(session, first.customer_id)
            owes = (f"{partner}现欠 {format_money(balance)}" if balance >= 0
                    else f"{partner}有 {format_money(-balance)} 退货款可抵下次货款")
            said = f"已退货 {numbers}：{'、'.join(what)} 退回原批次，冲减{partner}应收 {format_money(credit)}；{owes}。"
            if first.salesperson_id != turn.user.id:
                news = f"{turn.user.name} 办理了{partner}的退货 {numbers}（{pending.number}）：{'、'.join(what)}，冲减应收 {format_money(credit)}。"
                await enqueue_for_users(session, [first.salesperson_id], Text(news))
        else:
            sent = documents[0]
            assert isinstance(sent, PurchaseReturn)
            balance = await supplier_balance(session, sent.supplier_id)
            owes = (f"现欠{partner} {format_money(balance)}" if balance >= 0
                    else f"{partner}有 {format_money(-balance)} 退货款可抵下次货款")
            said = f"已退货 {numbers}：{'、'.join(what)} 从原批次出库退给{partner}，冲减应付 {format_money(credit)}；{owes}。"
        return numbers, said

    booked = await HELD.book(turn, card_id, work, lambda result: f"这张退货已确认为 {result[0]}。")
    if booked is not None:
        turn.say(Text(booked[1]))


async def cancel(turn: Turn, action: CardAction) -> None:
    await _cancel(turn, action.card_id, action)


async def cancel_typed(turn: Turn, card_id: str) -> None:
    await _cancel(turn, card_id, None)


async def _cancel(turn: Turn, card_id: str, action: CardAction | None) -> None:
    """取消, pressed or typed: nothing comes back, and the card says so."""
    pending = await _pending_for(turn, card_id, "取消")
    if pending is None:
        return
    await HELD.drop(turn, card_id)

    async def work(session: AsyncSession) -> None:
        card = await _card(session, card_id, pending, costs=False)
        status = decided_status("已取消", turn.user.name, turn.now())
        await enqueue_card_update(session, replace(card, tone=Tone.NEUTRAL, note="", buttons=(), status=status), action)

    turn.say(Text("已取消退货，库存和账款都没有变化。"))
    await turn.transact(work)
