"""Stock queries: per product, low stock, near expiry with lead-day fallback, slow movers, value."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from core import ledger
from core.documents import OrderLineInput
from core.errors import InsufficientStock
from core.models import Category, Lot, Product
from core.preferences import set_setting
from core.purchasing import reorder_suggestions
from core.sales import confirm_sales_order
from core.stock import low_stock, near_expiry, slow_moving, stock_by_barcode, stock_of, stock_value
from tests.factories import make_product, make_world
from tests.unit.core.workflows import CLOCK, add_milk_lot, draft_order, make_shop

TODAY = date(2026, 11, 22)


async def test_low_stock_uses_available_not_on_hand(db):
    async with db.session() as s:
        world = await make_world(s)
        cola = await make_product(s, "P001", "可口可乐", safety_stock="48")
        water = await make_product(s, "P002", "农夫山泉", barcode=None, safety_stock="10")
        await make_product(s, "P003", "雪碧", barcode=None, safety_stock="5")  # nothing in stock at all
        await make_product(s, "P004", "纸巾", barcode=None, safety_stock="0")  # no safety line: never low
        move = await ledger.opening_stock(
            s, world.warehouse_user, product_id=cola.id, warehouse_id=world.main.id, quantity=Decimal(60)
        )
        await ledger.opening_stock(s, world.warehouse_user, product_id=water.id, warehouse_id=world.store.id, quantity=Decimal(30))
        # 20 of the 60 cans are promised to a customer: 40 available, below the line of 48.
        await s.execute(update(Lot).where(Lot.id == move.lot_id).values(reserved=Decimal(20)))
    async with db.session() as s:
        rows = {r.sku: r for r in await low_stock(s)}
        assert set(rows) == {"P001", "P003"}
        assert (rows["P001"].on_hand, rows["P001"].available, rows["P001"].shortage) == (60, 40, 8)
        assert rows["P003"].available == 0
        # Per warehouse: the water is all in the store, so the main warehouse is short of it.
        in_main = {r.sku: r for r in await low_stock(s, world.main.id)}
        assert set(in_main) == {"P001", "P002", "P003"}
        assert (in_main["P001"].on_hand, in_main["P001"].available) == (60, 40)
        assert {r.sku for r in await low_stock(s, world.store.id)} == {"P001", "P003"}


async def test_near_expiry_lead_days_fall_back_product_category_global(db):
    async with db.session() as s:
        world = await make_world(s)
        milk = await make_product(s, "M1", "鲜牛奶", category="乳制品", barcode=None, shelf_life_days=7)
        juice = await make_product(s, "J1", "果汁", category="饮料", barcode=None, shelf_life_days=365)
        cake = await make_product(s, "C1", "蛋糕", category="烘焙", barcode=None, shelf_life_days=30)
        milk.near_expiry_days = 2
        dairy = (await s.get(Category, milk.category_id))
        dairy.near_expiry_days = 10  # the product's own 2 days win over its category's 10
        bakery = await s.get(Category, cake.category_id)
        bakery.near_expiry_days = 5
        await set_setting(s, None, "near_expiry_days", 30)  # the global default for 饮料
        for product, lot_no, expiry in [
            (milk, "M-A", TODAY + timedelta(days=2)),  # within 2 → listed
            (milk, "M-B", TODAY + timedelta(days=3)),  # beyond 2 → not listed
            (juice, "J-A", TODAY + timedelta(days=30)),  # within the global 30 → listed
            (juice, "J-B", TODAY + timedelta(days=31)),
            (cake, "C-A", TODAY - timedelta(days=1)),  # expired → listed with days_left -1
            (cake, "C-B", TODAY + timedelta(days=6)),  # beyond the category's 5
        ]:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(5),
                lot_no=lot_no, expiry_date=expiry,
            )
        # An empty lot is never listed.
        empty = await ledger.opening_stock(
            s, world.warehouse_user, product_id=cake.id, warehouse_id=world.main.id, quantity=Decimal(1),
            lot_no="C-0", expiry_date=TODAY,
        )
        await ledger.adjust(s, world.warehouse_user, lot_id=empty.lot_id, quantity=Decimal(-1), reason="报损")
    async with db.session() as s:
        rows = await near_expiry(s, TODAY)
        assert [(r.lot_no, r.days_left, r.lead_days, r.expired) for r in rows] == [
            ("C-A", -1, 5, True),
            ("M-A", 2, 2, False),
            ("J-A", 30, 30, False),
        ]
        assert await near_expiry(s, TODAY, world.store.id) == []


async def test_slow_movers_and_stock_value(db):
    async with db.session() as s:
        world = await make_world(s)
        cola = await make_product(s, "P001", "可口可乐")
        water = await make_product(s, "P002", "农夫山泉", barcode=None)
        for product, quantity, cost in [(cola, 10, "2.00"), (water, 3, "1.10"), (cola, 30, "3.00")]:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(quantity),
                unit_cost=Decimal(cost),
            )
        lot_id = (await stock_of(s, cola.id)).warehouses[0].lots[0].lot_id
        await ledger.transfer_lot(s, world.warehouse_user, lot_id=lot_id, to_warehouse_id=world.store.id, quantity=Decimal(4))
    async with db.session() as s:
        now = datetime.now(UTC)
        # The cola just moved out of the main warehouse; the water has never gone out.
        assert [m.sku for m in await slow_moving(s, 30, now)] == ["P002"]
        assert [m.sku for m in await slow_moving(s, 30, now + timedelta(days=31))] == ["P001", "P002"]
        rows, total = await stock_value(s)
        assert [(r.sku, r.on_hand, r.avg_cost, r.value) for r in rows] == [
            ("P001", Decimal(40), Decimal("2.75"), Decimal("110.00")),
            ("P002", Decimal(3), Decimal("1.1"), Decimal("3.30")),
        ]
        assert total == Decimal("113.30")
        store_rows, store_total = await stock_value(s, world.store.id)
        assert [(r.sku, r.on_hand) for r in store_rows] == [("P001", Decimal(4))] and store_total == Decimal("11.00")
        stock = await stock_of(s, cola.id)
        assert [(w.warehouse_name, w.on_hand, w.available) for w in stock.warehouses] == [("主仓", 36, 36), ("门店仓", 4, 4)]


async def test_stock_aging_value_rounds_half_up_like_every_amount(db):
    from core.reports import stock_aging

    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s, sale_price="1.00", purchase_price="0.10")
        await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(1),
            unit_cost=Decimal("0.125"),
        )
        [aging] = await stock_aging(s, world.manager)
        assert aging.value == Decimal("0.13")  # banker's rounding would say 0.12


async def test_stock_by_barcode_takes_a_code_as_scanned_or_typed(db):
    async with db.session() as s:
        await make_world(s)
        await make_product(s, "U1", "美国薯片", barcode="012345678905")  # UPC-A, stored as 0012345678905
        await make_product(s, "E8", "八位码", barcode="01234565")  # an EAN-8 that also reads as a UPC-E
        await make_product(s, "UE", "小包装", barcode="012345000065")  # the UPC-A form of that UPC-E
    async with db.session() as s:
        for text in ("012345678905", "0012345678905", "00012345678905", "０１２３４５６７８９０５", " 0 12345-67890 5 "):
            found = await stock_by_barcode(s, text)
            assert found is not None and found.product.sku == "U1", text
        # Both forms of 01234565 are stored, for two products: the code as scanned wins, alone.
        found = await stock_by_barcode(s, "01234565")
        assert found is not None and found.product.sku == "E8"
        assert (await stock_by_barcode(s, "0012345000065")).product.sku == "UE"
        assert await stock_by_barcode(s, "012345678904") is None  # wrong check digit: never "corrected"


async def test_stock_of_reads_this_transactions_unflushed_changes(db):
    async with db.session() as s:
        world = await make_world(s)
        cola = await make_product(s, "P001", "可口可乐")
    async with db.session() as s:
        await ledger.opening_stock(s, world.warehouse_user, product_id=cola.id, warehouse_id=world.main.id, quantity=Decimal(6))
        product = await s.get(Product, cola.id)
        product.sale_price = Decimal("3.90")  # not flushed yet
        stock = await stock_of(s, cola.id)
        assert stock.product.sale_price == Decimal("3.90") and stock.on_hand == 6
        assert stock.product is not product  # a snapshot of the columns: changing it changes nothing


async def test_near_expiry_reaches_the_longest_lead_days_of_a_category_or_a_product(db):
    async with db.session() as s:
        world = await make_world(s)
        wine = await make_product(s, "W1", "黄酒", category="酒类", barcode=None, shelf_life_days=720)
        oil = await make_product(s, "O1", "花生油", category="粮油", barcode=None, shelf_life_days=540)
        (await s.get(Category, wine.category_id)).near_expiry_days = 90  # beyond the global 60
        oil.near_expiry_days = 120  # beyond every category
        for product, lot_no, days in [(wine, "W-A", 89), (wine, "W-B", 91), (oil, "O-A", 119), (oil, "O-B", 121)]:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(2),
                lot_no=lot_no, expiry_date=TODAY + timedelta(days=days),
            )
    async with db.session() as s:
        rows = await near_expiry(s, TODAY)
        assert [(r.sku, r.lot_no, r.days_left, r.lead_days, r.on_hand) for r in rows] == [
            ("W1", "W-A", 89, 90, Decimal(2)), ("O1", "O-A", 119, 120, Decimal(2))
        ]


def test_stock_sells_through_its_expiry_date_and_not_after():
    assert not ledger.expired(None, TODAY)
    assert not ledger.expired(TODAY, TODAY)
    assert ledger.expired(TODAY - timedelta(days=1), TODAY)


async def test_available_stock_is_what_confirming_an_order_can_reserve(db):
    """Expired lots stay on hand but are not available; the stock card's figure is exactly what
    confirming reserves (on SQLite the Python path, on PostgreSQL the database function)."""
    shop = await make_shop(db)
    await add_milk_lot(db, shop, "OLD", TODAY - timedelta(days=1), "50")
    await add_milk_lot(db, shop, "LAST-DAY", TODAY, "10")
    await add_milk_lot(db, shop, "LATE", TODAY + timedelta(days=90), "30")
    async with db.session() as s:
        stock = await stock_of(s, shop.milk.id, clock=CLOCK)
    [main] = stock.warehouses
    assert [(lot.lot_no, lot.expired, lot.available) for lot in main.lots] == [
        ("OLD", True, 0), ("LAST-DAY", False, 10), ("LATE", False, 30)
    ]
    assert (stock.on_hand, stock.available, stock.expired_unreserved) == (90, 40, 50)
    assert (main.available, main.expired_unreserved) == (40, 50)

    too_many = await draft_order(db, shop, OrderLineInput(shop.milk.id, stock.available + 1))
    with pytest.raises(InsufficientStock) as refused:
        await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, too_many, clock=CLOCK))
    assert (refused.value.details["available"], refused.value.details["needed"]) == (40, 41)
    exactly = await draft_order(db, shop, OrderLineInput(shop.milk.id, stock.available))
    await db.transact(lambda s: confirm_sales_order(s, shop.world.sales, exactly, clock=CLOCK))
    async with db.session() as s:
        after = await stock_of(s, shop.milk.id, clock=CLOCK)
    assert (after.on_hand, after.reserved, after.available, after.expired_unreserved) == (90, 40, 0, 50)


async def test_low_stock_counts_expired_lots_on_hand_but_not_available(db):
    async with db.session() as s:
        world = await make_world(s)
        milk = await make_product(s, "M1", "鲜牛奶", base_unit="盒", case=12, barcode=None, safety_stock="10",
                                  shelf_life_days=30)
        juice = await make_product(s, "J1", "果汁", base_unit="瓶", case=12, barcode=None, safety_stock="10",
                                   shelf_life_days=365)
        for product, warehouse, lot_no, expiry in [
            (milk, world.main, "M-OLD", TODAY - timedelta(days=1)),  # the milk's only stock has expired
            (juice, world.main, "J-OLD", TODAY - timedelta(days=1)),
            (juice, world.store, "J-NEW", TODAY),  # sellable today, in the other warehouse
        ]:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=warehouse.id, quantity=Decimal(50),
                lot_no=lot_no, expiry_date=expiry,
            )
    async with db.session() as s:
        rows = {r.sku: r for r in await low_stock(s, clock=CLOCK)}
        assert set(rows) == {"M1"}
        assert (rows["M1"].on_hand, rows["M1"].available, rows["M1"].shortage) == (50, 0, 10)
        in_main = {r.sku: r for r in await low_stock(s, world.main.id, clock=CLOCK)}
        assert {sku: (r.on_hand, r.available) for sku, r in in_main.items()} == {"M1": (50, 0), "J1": (50, 0)}
        assert [r.sku for r in await low_stock(s, world.store.id, clock=CLOCK)] == ["M1"]  # the juice there is fresh
        # Reorder suggestions count the same stock: the milk is to be bought, the juice is not.
        suggested = [line.sku for group in await reorder_suggestions(s, clock=CLOCK) for line in group.lines]
        assert suggested == ["M1"]
