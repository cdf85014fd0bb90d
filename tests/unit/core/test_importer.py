"""Importing files: both encodings Excel in China writes, xlsx, all-or-nothing, re-runs update."""

from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import func, select

from core.catalog import find_customer, product_by_barcode, product_by_sku, search_products, units_of
from core.importer import ImportRejected, import_partners, import_products, import_stock, read_table
from core.ledger import check_ledger
from core.models import Barcode, Category, Movement, Product
from core.stock import stock_of
from tests.factories import make_product, make_world

PRODUCTS_CSV = """编码,名称,条码,单位,规格,分类,售价,进价,安全库存,最高库存,保质期天数,换算
SP1,可口可乐,6901234567892；036000291452,箱,330ml*24,饮料,84.00,50.40,2,10,365,1箱=24罐
SP2,农夫山泉,,瓶,550ml,饮用水,2.00,1.20,48,200,,1箱=24瓶
SP3,维达抽纸,,包,3层,日用品,3.5,2,,,,
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def test_products_csv_in_gbk_imports_then_reimports_as_update(db, tmp_path):
    rows = read_table(write(tmp_path, "products.csv", PRODUCTS_CSV, "gbk"))
    async with db.session() as s:
        world = await make_world(s)
        summary = await import_products(s, world.purchaser, rows)
        assert (summary.created, summary.updated) == (3, 0)
    async with db.session() as s:
        cola = await product_by_sku(s, "SP1")
        # `unit` 箱 is the unit prices are given in; the smallest unit (罐) becomes the base.
        assert cola.base_unit == "罐" and cola.sale_price == Decimal("3.50") and cola.safety_stock == Decimal(48)
        assert cola.lot_tracked and cola.shelf_life_days == 365
        assert {u.name: u.factor for u in await units_of(s, cola.id)} == {"箱": Decimal(24)}
        assert (await product_by_barcode(s, "0036000291452")).sku == "SP1"
        water = await product_by_sku(s, "SP2")
        assert water.base_unit == "瓶" and water.sale_price == Decimal("2.00")
    changed = PRODUCTS_CSV.replace("84.00", "86.40")
    async with db.session() as s:
        summary = await import_products(s, world.purchaser, read_table(write(tmp_path, "p2.csv", changed)))
        assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 2)
        assert await s.scalar(select(func.count()).select_from(Product)) == 3
        assert (await product_by_sku(s, "SP1")).sale_price == Decimal("3.60")


async def test_bad_file_lists_every_bad_row_and_imports_nothing(db, tmp_path):
    text = """sku,name,barcode,unit,sale_price,conversion
A1,好商品,,瓶,3,
A2,坏条码,6901234567890,瓶,3,
A3,负价,,瓶,-1,
A1,重复,,瓶,3,
A5,,,瓶,3,
A6,看不懂,,瓶,abc,
A7,换算错,,瓶,3,1箱=
"""
    async with db.session() as s:
        world = await make_world(s)
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_products(s, world.purchaser, read_table(write(tmp_path, "bad.csv", text)))
    reasons = {e.row: e.reason for e in caught.value.errors}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "校验位" in reasons[3] and "负数" in reasons[4] and "重复" in reasons[5]
    assert "名称不能为空" in reasons[6] and "不是数字" in reasons[7] and "看不懂" in reasons[8]
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Product)) == 0


async def test_missing_column_and_bad_encoding_are_clear(db, tmp_path):
    with pytest.raises(ImportRejected, match="缺少列: unit/单位"):
        read_rows = read_table(write(tmp_path, "m.csv", "sku,name\nA,B\n"))
        async with db.session() as s:
            await import_products(s, None, read_rows)
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00\xd8bad")
    with pytest.raises(ImportRejected, match="编码无法识别"):
        read_table(path)
    with pytest.raises(ImportRejected, match="只支持"):
        read_table(write(tmp_path, "a.pdf", "x"))


async def test_stock_xlsx_sets_quantities_through_the_ledger(db, tmp_path):
    async with db.session() as s:
        world = await make_world(s)
        await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", PRODUCTS_CSV)))
    book = Workbook()
    sheet = book.active
    sheet.append(["编码", "仓库", "数量", "单位", "批次", "生产日期", "到期日", "成本"])
    sheet.append(["SP1", "主仓", 2, "箱", "L1", "2026-10-01", None, 2.1])
    sheet.append(["SP2", "门店仓", 30, None, None, None, None, None])
    path = tmp_path / "stock.xlsx"
    book.save(path)
    for _ in range(2):  # re-running sets the same quantities: no duplicate stock
        async with db.session() as s:
            await import_stock(s, world.warehouse_user, read_table(path))
    async with db.session() as s:
        cola = await stock_of(s, (await product_by_sku(s, "SP1")).id)
        lot = cola.warehouses[0].lots[0]
        assert cola.on_hand == Decimal(48) and lot.lot_no == "L1"
        assert str(lot.expiry_date) == "2027-10-01"  # production date + 365 days shelf life
        assert (await product_by_sku(s, "SP1")).avg_cost == Decimal("2.1")
        assert await s.scalar(select(func.count()).select_from(Movement)) == 2
        assert await check_ledger(s) == []


async def test_stock_rows_with_errors_import_nothing(db, tmp_path):
    async with db.session() as s:
        world = await make_world(s)
        await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", PRODUCTS_CSV)))
    text = """sku,warehouse,quantity,lot,production_date,expiry_date
SP2,主仓,10,,,
NOPE,主仓,1,,,
SP2,北京仓,1,,,
SP2,门店仓,-3,,,
SP1,主仓,5,L9,2026-05-01,2026-01-01
SP1,主仓,5,,,
SP2,门店仓,1,,,
"""
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_stock(s, world.warehouse_user, read_table(write(tmp_path, "s.csv", text)))
    assert [e.row for e in caught.value.errors] == [3, 4, 5, 6, 7]
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Movement)) == 0


async def test_a_stock_row_of_half_a_bottle_is_refused_and_half_a_case_is_not(db, tmp_path):
    async with db.session() as s:
        world = await make_world(s)
        await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", PRODUCTS_CSV)))
    text = "sku,warehouse,quantity,unit,lot\nSP2,主仓,0.5,,\nSP1,主仓,0.5,箱,L1\nSP2,门店仓,1.5,箱,\n"
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_stock(s, world.warehouse_user, read_table(write(tmp_path, "s.csv", text)))
    assert [(e.row, e.reason) for e in caught.value.errors] == [(2, "农夫山泉 只能是整瓶，不能是 0.5瓶")]


async def test_prices_and_costs_beyond_the_bound_are_refused_by_row(db, tmp_path):
    async with db.session() as s:
        world = await make_world(s)
    products = "编码,名称,单位,售价,进价,换算\nG1,金条,克,100000,1,\nG2,金砖,箱,2399999.76,1,1箱=24块\nG3,银条,克,5,100000,\n"
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", products)))
    assert [(e.row, e.reason) for e in caught.value.errors] == [
        (2, "售价太高：每克 ¥100,000.00，最多 ¥99,999.99"),
        (4, "进价太高：每克 ¥100,000.00，最多 ¥99,999.99"),
    ]
    async with db.session() as s:
        await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", PRODUCTS_CSV)))
    stock = "sku,warehouse,quantity,unit_cost\nSP2,主仓,10,100000\nSP2,门店仓,10,99999.99\n"
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_stock(s, world.warehouse_user, read_table(write(tmp_path, "s.csv", stock)))
    assert [(e.row, e.reason) for e in caught.value.errors] == [(2, "成本太高：每瓶 ¥100,000.00，最多 ¥99,999.99")]


async def test_customers_with_credit_limit(db, tmp_path):
    text = "名称,联系人,电话,信用额度\n华联超市,周店长,13800000001,50000\n好德便利店,孙老板,13800000003,\n"
    async with db.session() as s:
        summary = await import_partners(s, None, "customers", read_table(write(tmp_path, "c.csv", text, "gbk")))
        assert summary.created == 2
        again = await import_partners(s, None, "customers", read_table(write(tmp_path, "c.csv", text)))
        assert (again.created, again.updated) == (0, 2)



async def test_products_are_written_a_slice_at_a_time_and_reruns_update(db, tmp_path, monkeypatch):
    import core.importer

    monkeypatch.setattr(core.importer, "_SLICE", 2)  # three products: two slices
    progress: list[tuple[int, int]] = []
    async with db.session() as s:
        world = await make_world(s)
        rows = read_table(write(tmp_path, "p.csv", PRODUCTS_CSV))
        summary = await import_products(s, world.purchaser, rows, lambda done, total: progress.append((done, total)))
        assert (summary.created, summary.rows) == (3, 3)
    assert progress == [(2, 3), (3, 3), (3, 3)]
    changed = PRODUCTS_CSV.replace("1箱=24罐", "1箱=12罐").replace("3.5,2,", "3.9,2,")
    async with db.session() as s:
        summary = await import_products(s, world.purchaser, read_table(write(tmp_path, "p2.csv", changed)))
        assert (summary.created, summary.updated, summary.unchanged) == (0, 2, 1)
    async with db.session() as s:
        cola = await product_by_sku(s, "SP1")
        assert cola.sale_price == Decimal("7.00") and cola.version == 2  # 84.00 a case of 12 now
        assert {u.name: u.factor for u in await units_of(s, cola.id)} == {"箱": Decimal(12)}
        assert (await product_by_sku(s, "SP3")).sale_price == Decimal("3.90")
        assert await s.scalar(select(func.count()).select_from(Product)) == 3
        assert await s.scalar(select(func.count()).select_from(Barcode)) == 2


async def test_rows_bad_against_the_database_are_listed_with_the_rest_and_nothing_is_written(db, tmp_path):
    text = """sku,name,barcode,unit,sale_price,supplier,category
N1,好商品,,瓶,3,,新分类
N2,负价,,瓶,-3,,新分类
N3,没供应商,,瓶,3,不存在的供应商,新分类
N4,别人的码,6901234567892,瓶,3,,新分类
N5,同一个码,6901234567892,瓶,3,,新分类
"""
    async with db.session() as s:
        world = await make_world(s)
        await make_product(s, "OLD", "老商品", barcode="6901234567892")
    with pytest.raises(ImportRejected) as caught:
        async with db.session() as s:
            await import_products(s, world.purchaser, read_table(write(tmp_path, "bad.csv", text)))
    assert [(e.row, e.reason) for e in caught.value.errors] == [
        (3, "售价不能为负数: -3"),
        (4, "供应商“不存在的供应商”不存在，请先导入供应商"),
        (5, "条码 6901234567892 已属于另一个商品"),
        (6, "条码 6901234567892 与第 5 行重复"),
    ]
    async with db.session() as s:
        assert [p.sku for p in (await s.scalars(select(Product))).all()] == ["OLD"]
        assert await s.scalar(select(func.count()).select_from(Category).where(Category.name == "新分类")) == 0


async def test_products_xlsx_imports(db, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["编码", "名称", "条码", "单位", "售价", "保质期天数", "换算"])
    sheet.append(["X1", "雪碧 330ml", 6901234567892, "罐", 3.5, 365, "1箱=24罐"])
    sheet.append([None, None, None, None, None, None, None])  # an empty row is skipped
    sheet.append(["X2", "纸巾", None, "包", 12, None, None])
    path = tmp_path / "products.xlsx"
    book.save(path)
    async with db.session() as s:
        world = await make_world(s)
        summary = await import_products(s, world.purchaser, read_table(path))
        assert (summary.created, summary.rows) == (2, 2)
    async with db.session() as s:
        sprite = await product_by_barcode(s, "6901234567892")
        assert sprite.sku == "X1" and sprite.sale_price == Decimal("3.50") and sprite.shelf_life_days == 365
        assert (await product_by_sku(s, "X2")).sale_price == Decimal("12.00")


def test_a_table_reads_its_file_anew_and_names_the_row_of_a_broken_csv(tmp_path):
    table = read_table(write(tmp_path, "p.csv", PRODUCTS_CSV, "gbk"))
    assert list(table) == list(table) and list(table)[1][1] == "可口可乐"
    broken = write(tmp_path, "b.csv", "sku,name,unit\nA1,好,瓶\nA2," + "长" * 200_000 + ",瓶\n")
    with pytest.raises(ImportRejected, match="第 3 行: CSV 格式错误"):
        list(read_table(broken))


async def test_a_text_code_added_by_a_rerun_is_found_by_search(db, tmp_path):
    async with db.session() as s:
        world = await make_world(s)
        await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", PRODUCTS_CSV)))
        assert [m.product.sku for m in await search_products(s, "维达")] == ["SP3"]  # the index is built here
    with_code = PRODUCTS_CSV.replace("SP3,维达抽纸,,", "SP3,维达抽纸,VD-3C,")
    async with db.session() as s:
        summary = await import_products(s, world.purchaser, read_table(write(tmp_path, "p2.csv", with_code)))
        assert (summary.updated, summary.unchanged) == (0, 3)
    async with db.session() as s:
        assert [(m.product.sku, m.reason) for m in await search_products(s, "vd-3c")] == [("SP3", "barcode")]


async def test_traditional_names_and_headers_are_found_by_simplified_text_and_pinyin(db, tmp_path):
    """A shop's file in traditional Chinese (Hong Kong, Taiwan suppliers' lists): its names are kept as
    written and searched as simplified, as chat text is read; simplified names are found by traditional text."""
    products = "編碼,名稱,單位,規格,換算\nT1,可口可樂,罐,330ml,1箱=24罐\nT2,雪碧 檸檬味,瓶,500ml,\nS1,农夫山泉,瓶,550ml,\n"
    async with db.session() as s:
        world = await make_world(s)
        assert (await import_products(s, world.purchaser, read_table(write(tmp_path, "p.csv", products)))).created == 3
        customers = "名稱,聯繫人\n華聯超市,周店長\n"
        assert (await import_partners(s, None, "customers", read_table(write(tmp_path, "c.csv", customers)))).created == 1
    async with db.session() as s:
        assert (await product_by_sku(s, "T1")).name == "可口可樂"  # stored as typed
        for query, sku in [("可乐", "T1"), ("可樂", "T1"), ("kkkl", "T1"), ("kekoukele", "T1"), ("柠檬", "T2"),
                           ("檸檬", "T2"), ("xbnm", "T2"), ("雪碧柠檬味500", "T2"), ("農夫", "S1")]:
            assert [m.product.sku for m in await search_products(s, query)] == [sku], query
        assert (await find_customer(s, "华联")).name == "華聯超市"
        assert (await find_customer(s, "hlcs")).name == "華聯超市"
