"""What each command, button and flow runs; one module per family of commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot import parser
from bot.handlers import alerts, general, photo, stock
from bot.model import CardAction
from bot.turn import Turn

CommandHandler = Callable[[Turn, Any], Awaitable[None]]
ActionHandler = Callable[[Turn, CardAction], Awaitable[None]]
FlowHandler = Callable[[Turn, dict[str, Any], str], Awaitable[bool]]  # True when the text was for the flow

COMMANDS: dict[type, CommandHandler] = {
    parser.StockQuery: stock.stock_query,
    parser.Help: general.show_help,
    parser.Unknown: general.unknown,
    parser.Usage: general.usage,
    parser.CancelFlow: general.cancel_flow,
    parser.Bind: general.bind,
    parser.NearExpiry: alerts.expiring,
    parser.LowStock: alerts.shortages,
}

ACTIONS: dict[str, ActionHandler] = {
    "stock.pick": stock.pick,
    "product.create": photo.start_create,
}

FLOWS: dict[str, FlowHandler] = {
    "product.create": photo.continue_create,
}

__all__ = ["ACTIONS", "COMMANDS", "FLOWS", "general", "photo"]
