from decimal import Decimal

import pytest

from core import ledger
from core.errors import InsufficientStock, InvalidInput
from core.stock import stock_of
from tests.factories import make_product, make_world


async def test_opening_then_adjust_keeps_ledger_in_step(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s)
        await ledger.opening_stock(
            s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal("48")
        )
    async with db.session() as s:
        stock = await stock_of(s, product.id)
        assert stock.on_hand == Decimal("48")
        lot_id = stock.warehouses[0].lots[0].lot_id
        with pytest.raises(InsufficientStock) as short:
            await ledger.adjust(s, world.warehouse_user, lot_id=lot_id, quantity=Decimal("-49"), reason="破损")
        assert short.value.message == "库存不足: 可口可乐 330ml 可用 2箱（48罐）"  # in cases, and the exact cans
        with pytest.raises(InvalidInput) as nothing:
            await ledger.opening_stock(
                s, world.warehouse_user, product_id=product.id, warehouse_id=world.main.id, quantity=Decimal(0)
            )
        assert nothing.value.message == "期初数量必须大于 0: 0罐"
        with pytest.raises(InvalidInput) as fine:
            await ledger.adjust(s, world.warehouse_user, lot_id=lot_id, quantity=Decimal("-0.0005"), reason="破损")
        assert fine.value.message == "可口可乐 330ml 的数量最多 3 位小数: -0.0005罐"
    async with db.session() as s:
        await ledger.adjust(s, world.warehouse_user, lot_id=lot_id, quantity=Decimal("-1.5"), reason="破损")
        assert await ledger.check_ledger(s) == []
        assert (await stock_of(s, product.id)).on_hand == Decimal("46.5")
