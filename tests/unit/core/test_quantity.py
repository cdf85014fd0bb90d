"""The bound on one line's quantity: derived from the BIGINT columns, and kept by core itself."""

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.columns import MONEY_PLACES, QTY_PLACES
from core.counts import record_count, start_count
from core.documents import OrderLineInput
from core.errors import InvalidInput
from core.purchasing import create_purchase_order
from core.quantity import MAX_LINE_QUANTITY, check_quantity
from core.sales import create_sales_order
from core.transfers import TransferLineInput, transfer_stock
from tests.unit.core.workflows import CLOCK, make_shop

D = Decimal
BIGINT_MAX = 2**63 - 1
HUGE = D("99999999999999999999")  # 20 digits: once an OverflowError from the driver on flush


def test_the_bound_keeps_amounts_and_their_sums_inside_a_bigint() -> None:
    """A line at the bound, priced just under ¥100,000 a base unit, summed 100,000 times, still fits."""
    line_cents = MAX_LINE_QUANTITY * D("99999.99") * 10**MONEY_PLACES
    assert line_cents * 100_000 < BIGINT_MAX
    assert MAX_LINE_QUANTITY * 10**QTY_PLACES * 100_000 < BIGINT_MAX
    assert MAX_LINE_QUANTITY == D(1_000_000)  # a million base units: 41,666 cases of 24 in one line


@pytest.mark.parametrize(
    ("quantity", "zero_allowed", "message"),
    [
        (D(-1), False, "数量不能为负数"),
        (D(-1), True, "数量不能为负数"),
        (D(0), False, "数量不能为 0"),
        (MAX_LINE_QUANTITY + D("0.001"), False, "数量太大：最多 1000000罐"),
        (HUGE * 10**20, False, "数量太大：最多 1000000罐"),
    ],
)
def test_check_quantity_refuses_by_name(quantity: Decimal, zero_allowed: bool, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_quantity(quantity, unit="罐", zero_allowed=zero_allowed)


def test_check_quantity_takes_the_bound_and_a_counted_zero() -> None:
    check_quantity(MAX_LINE_QUANTITY)
    check_quantity(D("0.001"))
    check_quantity(D(0), zero_allowed=True)


@pytest.mark.parametrize("quantity", [MAX_LINE_QUANTITY + 1, HUGE])
@pytest.mark.parametrize("service", ["sales order", "purchase order", "transfer", "count", "opening stock"])
async def test_core_refuses_a_quantity_beyond_the_bound_before_the_database_sees_it(
    db, service: str, quantity: Decimal
) -> None:
    shop = await make_shop(db)
    w = shop.world
    count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))
    calls = {
        "sales order": lambda s: create_sales_order(
            s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(shop.cola.id, quantity, "箱")], clock=CLOCK,
        ),
        "purchase order": lambda s: create_purchase_order(
            s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id,
            lines=[OrderLineInput(shop.cola.id, quantity)], clock=CLOCK,
        ),
        "transfer": lambda s: transfer_stock(
            s, w.warehouse_user, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
            lines=[TransferLineInput(shop.cola.id, quantity)], clock=CLOCK,
        ),
        "count": lambda s: record_count(s, w.warehouse_user, count.id, product_id=shop.cola.id, quantity=quantity),
        "opening stock": lambda s: ledger.opening_stock(
            s, w.warehouse_user, product_id=shop.cola.id, warehouse_id=w.store.id, quantity=quantity
        ),
    }

    async def work(s: AsyncSession) -> None:
        await calls[service](s)
        await s.flush()

    with pytest.raises(InvalidInput, match="数量太大：最多 1000000罐"):
        await db.transact(work)
