"""The pushed alert cards name each product with its spec, as the 缺货 and 临期 commands do."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.alerts import AlertKind, Destination, Finding
from core.stock import ExpiringLot, LowStockRow
from scheduler.cards import low_stock_alert, near_expiry_alert

TODAY = date(2027, 1, 10)


def test_two_products_of_one_name_read_apart_on_the_alert_cards() -> None:
    low = [
        Finding(f"low_stock:{pid}:1", AlertKind.LOW_STOCK, "low", "", pid, 1, "主仓", None,
                LowStockRow(pid, f"P{pid}", "可口可乐", spec, "罐", Decimal(24), None, Decimal(1), Decimal(1), None))
        for pid, spec in ((1, "330ml"), (2, "500ml"))
    ]
    card = low_stock_alert(low, Destination("role", "purchaser"), {}, 1, {}, {})
    assert [row[0] for row in card.tables[0].rows] == ["可口可乐（330ml）", "可口可乐（500ml）"]
    assert "可口可乐（330ml）、可口可乐（500ml）" in card.note  # no supplier: named for a 采购 by hand

    lot = ExpiringLot(7, 2, "P2", "可口可乐", "500ml", "瓶", 1, "主仓", "B1", date(2027, 1, 20), Decimal(24), 10, 30)
    expiring = near_expiry_alert([Finding("lot:7", AlertKind.NEAR_EXPIRY, "near", "", 2, 1, "主仓", None, lot)], TODAY, {})
    assert expiring.tables[0].rows[0][:3] == ("可口可乐（500ml）", "主仓", "B1")
