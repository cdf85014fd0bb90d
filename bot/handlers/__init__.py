"""What each command, button and flow runs; one module per family of commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import parser
from bot.handlers import (
    accounts,
    alert_actions,
    alert_routes,
    alerts,
    drafts,
    general,
    orders,
    photo,
    purchases,
    reports,
    returns,
    stock,
    warehouse,
    writeoffs,
)
from bot.model import CardAction
from bot.turn import Turn

CommandHandler = Callable[[Turn, Any], Awaitable[None]]
ActionHandler = Callable[[Turn, CardAction], Awaitable[None]]
FlowHandler = Callable[[Turn, dict[str, Any], str], Awaitable[bool]]

COMMANDS: dict[type, CommandHandler] = {
    parser.StockQuery: stock.stock_query,
    parser.Help: general.show_help,
    parser.Greeting: general.greet,
    parser.Thanks: general.thank,
    parser.Ack: general.acknowledge,
    parser.Unknown: general.unknown,
    parser.Usage: general.usage,
    parser.CancelFlow: general.cancel_flow,
    parser.ConfirmDraft: drafts.confirm,
    parser.EditDraft: drafts.edit,
    parser.WithdrawCredit: drafts.withdraw,
    parser.RequestCredit: drafts.request_credit,
    parser.PickRow: drafts.pick_row,
    parser.Bind: general.bind,
    parser.NearExpiry: alerts.expiring,
    parser.LowStock: alerts.shortages,
    parser.PlaceOrder: orders.place_order,
    parser.Ship: orders.ship,
    parser.CloseOrder: orders.close,
    parser.RequestPurchase: purchases.request_purchase,
    parser.PendingApprovals: purchases.pending,
    parser.Receive: purchases.receive,
    parser.Count: warehouse.count,
    parser.Transfer: warehouse.transfer,
    parser.WriteOff: writeoffs.write_off_command,
    parser.UndoWriteOff: writeoffs.undo_command,
    parser.ReturnGoods: returns.return_command,
    parser.ReturnWithoutDocument: returns.without_document,
    parser.ReceivePayment: accounts.receive_command,
    parser.PaySupplier: accounts.pay_command,
    parser.Receivables: accounts.receivables,
    parser.Payables: accounts.payables,
    parser.TodaySales: reports.today,
    parser.ShowAlertRoutes: alert_routes.show,
    parser.AddAlertRoute: alert_routes.add,
    parser.RemoveAlertRoute: alert_routes.remove,
}

ACTIONS: dict[str, ActionHandler] = {
    "stock.pick": stock.pick,
    "product.create": photo.start_create,
    "order.start": orders.start_for_product,
    "order.confirm": orders.confirm,
    "order.edit": orders.edit,
    "order.cancel": orders.cancel,
    "order.choose": orders.choose,
    "order.close": orders.close_pressed,
    "order.credit_request": orders.request_credit,
    "order.credit_confirm": orders.confirm_over_credit,
    "order.credit_approve": orders.approve_credit,
    "order.credit_reject": orders.reject_credit,
    "order.credit_withdraw": orders.withdraw_credit,
    "purchase.start": purchases.start_for_product,
    "purchase.choose": purchases.choose,
    "po.approve": purchases.approve,
    "po.reject": purchases.reject,
    "po.submit": purchases.submit_draft,
    "po.cancel": purchases.cancel_draft,
    "receive.start": purchases.receivable_for_product,
    "count.start": warehouse.start_from_card,
    "count.choose": warehouse.count_chosen,
    "transfer.choose": warehouse.transfer_chosen,
    "alert.purchase": alert_actions.purchase,
    "alert.lots": alert_actions.view_lots,
    "alert.page": alerts.next_page,
    "alert.handle": alert_actions.handle,
    "alert.mark": alert_actions.mark,
    "writeoff.lot": writeoffs.start_for_lot,
    "writeoff.confirm": writeoffs.confirm,
    "writeoff.cancel": writeoffs.cancel,
    "writeoff.reverse": writeoffs.undo_pressed,
    "return.confirm": returns.confirm,
    "return.cancel": returns.cancel,
    "collect.confirm": accounts.confirm,
    "collect.cancel": accounts.cancel,
    "pay.confirm": accounts.confirm,
    "pay.cancel": accounts.cancel,
}

@dataclass(frozen=True, slots=True)
class Flow:
    """A conversation waiting for an answer: `answer` takes the person's next text (True when it was for
    the flow). `name` tells the person which flow a command typed meanwhile left, or which one still waits
    after a question answered on the side. Only free text (`parser.FREE_TEXT`) is offered, unless
    `any_text`: such a flow judges a command-like answer itself (a reject reason such as 库存还够 reads as a
    stock query)."""

    name: str
    answer: FlowHandler
    any_text: bool = False


FLOWS: dict[str, Flow] = {
    "product.create": Flow("新建商品", photo.continue_create),
    "order.edit": Flow("修改订单", orders.continue_edit),
    "order.product": Flow("下单", orders.continue_for_product),
    "po.reject": Flow("驳回理由", purchases.continue_reject, any_text=True),
    purchases.RECEIVE_FLOW: Flow("入库登记", purchases.continue_receive),
    "count": Flow("盘点", warehouse.continue_count),
    alert_actions.NOTE_FLOW: Flow("临期处理说明", alert_actions.continue_note),
}

# Questions answered on the side of a flow, which keeps waiting (a stock check in the middle of a count);
# any other command leaves it.
ASIDES: tuple[type, ...] = (
    parser.StockQuery, parser.NearExpiry, parser.LowStock, parser.TodaySales, parser.PendingApprovals,
    parser.Help, parser.Usage, parser.ShowAlertRoutes, parser.Receivables, parser.Payables,
)

__all__ = ["ACTIONS", "ASIDES", "COMMANDS", "FLOWS", "Flow", "general", "photo"]
