from decimal import Decimal

import pytest

from core import ledger
from core.errors import InsufficientStock
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
        with pytest.raises(InsufficientStock, match="可用 48罐"):
            await ledger.adjust(s, world.warehouse_user, lot_id=lot_id, quantity=Decimal("-49"), reason="破损")
    async with db.session() as s:
        await ledger.adjust(s, world.warehouse_user, lot_id=lot_id, quantity=Decimal("-1.5"), reason="破损")
        assert await ledger.check_ledger(s) == []
        assert (await stock_of(s, product.id)).on_hand == Decimal("46.5")
