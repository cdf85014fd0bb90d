"""The ledger: on-hand always equals the sum of movements, and stock never goes negative."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import ledger
from core.errors import Forbidden, InsufficientStock, InvalidInput
from core.models import Lot, MovementKind
from core.stock import stock_of
from tests.conftest import drop_database, make_database
from tests.factories import make_product, make_world


async def test_moving_average_cost_and_expiry_from_shelf_life(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s, shelf_life_days=30)
        await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(10),
            lot_no="A", production_date=date(2026, 11, 1), unit_cost=Decimal("2.00"),
        )
        await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(30),
            lot_no="B", expiry_date=date(2027, 1, 1), unit_cost=Decimal("3.00"),
        )
        assert product.avg_cost == Decimal("2.75")  # (10×2 + 30×3) / 40
        stock = await stock_of(s, product.id)
        assert [(lot.lot_no, lot.expiry_date) for lot in stock.warehouses[0].lots] == [
            ("A", date(2026, 12, 1)),
            ("B", date(2027, 1, 1)),
        ]
        with pytest.raises(InvalidInput, match="早于生产日期"):
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(1),
                lot_no="C", production_date=date(2026, 11, 1), expiry_date=date(2026, 10, 1),
            )
        with pytest.raises(InvalidInput, match="请填写批次号"):
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(1)
            )


async def test_refusals(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s)
        with pytest.raises(Forbidden):
            await ledger.opening_stock(s, world.sales, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(1))
        with pytest.raises(InvalidInput, match="必须大于 0"):
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(-1)
            )
        move = await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(5)
        )
        with pytest.raises(InvalidInput, match="必须写明原因"):
            await ledger.adjust(s, world.warehouse_user, lot_id=move.lot_id, quantity=Decimal(-1), reason=" ")
        with pytest.raises(InvalidInput, match="同一个仓库"):
            await ledger.transfer_lot(s, world.warehouse_user, lot_id=move.lot_id, to_warehouse_id=world.main.id, quantity=Decimal(1))
        with pytest.raises(InsufficientStock):
            await ledger.transfer_lot(s, world.warehouse_user, lot_id=move.lot_id, to_warehouse_id=world.store.id, quantity=Decimal(6))


async def test_transfer_keeps_lot_and_expiry(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s, shelf_life_days=100)
        move = await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(20),
            lot_no="L7", production_date=date(2026, 11, 1),
        )
        out, into = await ledger.transfer_lot(
            s, world.warehouse_user, lot_id=move.lot_id, to_warehouse_id=world.store.id, quantity=Decimal(8)
        )
        target = await s.get(Lot, into.lot_id)
        assert (target.lot_no, target.expiry_date, target.on_hand) == ("L7", date(2026, 11, 1) + timedelta(days=100), 8)
        assert out.kind is MovementKind.TRANSFER_OUT and out.quantity == Decimal(-8)
        assert await ledger.check_ledger(s) == []


async def test_check_ledger_finds_a_tampered_lot(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s)
        move = await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(5)
        )
    from sqlalchemy import update

    async with db.session() as s:
        await s.execute(update(Lot).where(Lot.id == move.lot_id).values(on_hand=Decimal(7)))
    async with db.session() as s:
        [difference] = await ledger.check_ledger(s)
        assert (difference.on_hand, difference.ledger_sum) == (Decimal(7), Decimal(5))


# Each step: (kind, lot index 0-2, quantity in thousandths). Lots 0,1 in the main warehouse, 2 in the store.
steps = st.lists(
    st.tuples(st.sampled_from(["receipt", "adjust", "transfer"]), st.integers(0, 2), st.integers(-50_000, 50_000)),
    max_size=25,
)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
async def test_any_sequence_keeps_on_hand_equal_to_the_ledger(backend, tmp_path_factory, sequence):
    database, schema = await make_database(backend, tmp_path_factory)
    try:
        async with database.session() as s:
            world = await make_world(s)
            product = await make_product(s, lot_tracked=True)
            keys = [(world.main.id, "L1"), (world.main.id, "L2"), (world.store.id, "L1")]
            for warehouse_id, lot_no in keys:
                await ledger.lot_for(s, product, warehouse_id, lot_no)
        expected: dict[tuple[int, str], Decimal] = {key: Decimal(0) for key in keys}

        async def lot_id(s, key):
            return (await ledger.lot_for(s, product, key[0], key[1])).id

        for kind, index, thousandths in sequence:
            quantity = Decimal(thousandths) / 1000
            key = keys[index]
            try:
                async with database.session() as s:
                    if kind == "receipt":
                        if quantity <= 0:
                            continue
                        product_row = await ledger.lock_product(s, product.id)
                        lot = await ledger.lock_lot(s, await lot_id(s, key))
                        await ledger.post(
                            s, kind=MovementKind.PURCHASE_RECEIPT, product=product_row, lot=lot, quantity=quantity,
                            actor=world.warehouse_user, unit_cost=Decimal("1.5"),
                        )
                        expected[key] += quantity
                    elif kind == "adjust":
                        await ledger.adjust(s, world.warehouse_user, lot_id=await lot_id(s, key), quantity=quantity, reason="盘点差异")
                        expected[key] += quantity
                    else:
                        to_warehouse = world.store.id if key[0] == world.main.id else world.main.id
                        await ledger.transfer_lot(
                            s, world.warehouse_user, lot_id=await lot_id(s, key), to_warehouse_id=to_warehouse,
                            quantity=abs(quantity),
                        )
                        expected[key] -= abs(quantity)
                        target = (to_warehouse, key[1])  # the lot number travels with the goods
                        expected[target] = expected.get(target, Decimal(0)) + abs(quantity)
            except (InsufficientStock, InvalidInput):
                pass  # refused as a whole: nothing written
        async with database.session() as s:
            assert await ledger.check_ledger(s) == []
            from sqlmodel import select

            actual = {(lot.warehouse_id, lot.lot_no): lot.on_hand for lot in (await s.scalars(select(Lot))).all()}
            assert actual == expected
            assert all(quantity >= 0 for quantity in actual.values())
    finally:
        await drop_database(database, schema)


async def test_more_than_three_decimal_places_is_refused_in_chinese(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s)
        move = await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(5)
        )
        with pytest.raises(InvalidInput, match="最多 3 位小数"):
            await ledger.adjust(s, world.warehouse_user, lot_id=move.lot_id, quantity=Decimal("-0.0001"), reason="称重")
