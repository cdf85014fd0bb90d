"""The bounds on one line's quantity and price: derived from the BIGINT columns, and kept by core itself;
and whole units where a unit counts things."""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.catalog import ProductInput, save_product
from core.columns import MONEY_PLACES, QTY_PLACES
from core.counts import record_count, start_count
from core.documents import OrderLineInput
from core.errors import InvalidInput
from core.purchasing import create_purchase_order
from core.quantity import (
    MAX_LINE_QUANTITY,
    MAX_PRICE,
    check_price,
    check_quantity,
    check_whole,
    format_money,
    is_measured,
)
from core.sales import create_sales_order
from core.transfers import TransferLineInput, transfer_stock
from tests.factories import make_product, make_world
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


@pytest.mark.parametrize("unit", ["罐", "瓶", "箱", "个", "双"])
def test_a_unit_that_counts_things_is_never_split(unit: str) -> None:
    with pytest.raises(InvalidInput, match=f"^可口可乐 330ml 只能是整{unit}，不能是 0.5{unit}$"):
        check_whole(D("0.5"), unit, "可口可乐 330ml")
    check_whole(D(12), unit, "可口可乐 330ml")
    check_whole(D("12.000"), unit, "可口可乐 330ml")  # as a quantity column reads back


@pytest.mark.parametrize("unit", ["公斤", "千克", "kg", "KG", "斤", "克", "g", "吨", "升", "L", "ml", "毫升", "米", "m", "㎏"])
def test_a_measured_unit_may_be_a_fraction(unit: str) -> None:
    assert is_measured(unit)
    check_whole(D("0.5"), unit, "散装大米")


@pytest.mark.parametrize("service", ["sales order", "purchase order", "transfer", "count", "opening stock"])
async def test_core_refuses_half_a_can_but_takes_half_a_case_and_half_a_kilo(db, service: str) -> None:
    """0.5罐 was booked as half a can; 0.5箱 of 24 is 12罐, and rice by the kilo may be split."""
    shop = await make_shop(db)
    w = shop.world
    async with db.session() as s:
        rice = await make_product(s, "R001", "散装大米", base_unit="公斤", case=None, barcode=None)
        await ledger.opening_stock(s, w.warehouse_user, product_id=rice.id, warehouse_id=w.main.id, quantity=D(50))
    count = await db.transact(lambda s: start_count(s, w.warehouse_user, warehouse_id=w.main.id, clock=CLOCK))

    def call(product_id: int, quantity: Decimal, unit: str | None) -> Callable[[AsyncSession], Awaitable[object]]:
        line = OrderLineInput(product_id, quantity, unit)
        return {
            "sales order": lambda s: create_sales_order(
                s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id, lines=[line], clock=CLOCK,
            ),
            "purchase order": lambda s: create_purchase_order(
                s, w.purchaser, supplier_id=shop.supplier.id, warehouse_id=w.main.id, lines=[line], clock=CLOCK,
            ),
            "transfer": lambda s: transfer_stock(
                s, w.warehouse_user, from_warehouse_id=w.main.id, to_warehouse_id=w.store.id,
                lines=[TransferLineInput(product_id, quantity, unit)], clock=CLOCK,
            ),
            "count": lambda s: record_count(s, w.warehouse_user, count.id, product_id=product_id, quantity=quantity, unit=unit),
            "opening stock": lambda s: ledger.opening_stock(
                s, w.warehouse_user, product_id=product_id, warehouse_id=w.store.id,
                quantity=quantity * (24 if unit else 1),
            ),
        }[service]

    with pytest.raises(InvalidInput, match="^可口可乐 330ml 只能是整罐，不能是 0.5罐$"):
        await db.transact(call(shop.cola.id, D("0.5"), None))
    await db.transact(call(shop.cola.id, D("0.5"), "箱"))
    await db.transact(call(rice.id, D("0.5"), None))


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (D("-0.01"), "^售价不能为负数: -0.01$"),
        (MAX_PRICE, "^售价太高：每罐 ¥100,000.00，最多 ¥99,999.99$"),
        (HUGE, "^售价太高：每罐 ¥99,999,999,999,999,999,999.00，最多 ¥99,999.99$"),
    ],
)
def test_check_price_refuses_a_negative_price_and_one_the_books_cannot_multiply(price: Decimal, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_price(price, "售价", "罐")


def test_check_price_takes_zero_and_the_bound_documented_with_the_quantity_bound() -> None:
    assert MAX_PRICE == D(100_000)
    check_price(D(0), "售价", "罐")
    check_price(D("99999.99"), "售价", "罐")


@pytest.mark.parametrize(
    ("field", "price", "unit", "message"),
    [
        ("sale_price", D("100000"), "", "售价太高：每罐 ¥100,000.00"),
        ("purchase_price", D("2400000"), "箱", "进价太高：每罐 ¥100,000.00"),  # per case of 24
        ("purchase_price", D("-1"), "", "进价不能为负数"),
    ],
)
async def test_a_product_price_beyond_the_bound_is_refused(db, field: str, price: Decimal, unit: str, message: str) -> None:
    async with db.session() as s:
        world = await make_world(s)
    data = ProductInput(sku="X1", name="金条", base_unit="罐", unit=unit, conversions={"箱": D(24)}, **{field: price})
    with pytest.raises(InvalidInput, match=message):
        async with db.session() as s:
            await save_product(s, world.purchaser, data)
    async with db.session() as s:  # just under the bound: ¥99,999.99 a can, as a case of 24 too
        await save_product(s, world.purchaser, replace(data, **{field: D("99999.99") * (24 if unit else 1)}))


async def test_an_order_line_priced_beyond_the_bound_is_refused(db) -> None:
    shop = await make_shop(db)
    w = shop.world
    for price, message in ((D("2400000"), "可口可乐 330ml 的单价太高：每罐 ¥100,000.00"), (D("-1"), "单价不能为负数")):
        with pytest.raises(InvalidInput, match=message):
            await db.transact(lambda s, price=price: create_sales_order(
                s, w.sales, customer_id=shop.customer.id, warehouse_id=w.main.id,
                lines=[OrderLineInput(shop.cola.id, D(1), "箱", unit_price=price)], clock=CLOCK,
            ))


async def test_an_opening_cost_beyond_the_bound_is_refused(db) -> None:
    shop = await make_shop(db, cola_stock="0")
    w = shop.world
    with pytest.raises(InvalidInput, match="成本太高：每罐 ¥100,000.00"):
        await db.transact(lambda s: ledger.opening_stock(
            s, w.warehouse_user, product_id=shop.cola.id, warehouse_id=w.main.id, quantity=D(1), unit_cost=MAX_PRICE,
        ))


def test_money_reads_as_written_in_a_shop_negative_amounts_too() -> None:
    assert [format_money(Decimal(v)) for v in ("1234.5", "0", "-7", "-1234.567")] == ["¥1,234.50", "¥0.00", "-¥7.00", "-¥1,234.57"]
