"""The catalog: products with units and barcodes, search as a salesperson types, partners."""

from decimal import Decimal

import pytest

from core.catalog import (
    ProductInput,
    closest_names,
    describe_quantity,
    find_customer,
    find_warehouse,
    parse_conversions,
    pinyin_keys,
    product_by_barcode,
    save_customer,
    save_product,
    search_products,
    to_base,
)
from core.errors import Duplicate, Forbidden, InvalidInput, NotFound
from core.models import AuditEntry
from tests.factories import make_product, make_world


def test_conversions_chain_to_the_base_unit():
    assert parse_conversions("1箱=24罐", "罐") == {"箱": Decimal(24)}
    assert parse_conversions("1箱=12盒；1盒=4支", "支") == {"盒": Decimal(4), "箱": Decimal(48)}
    assert parse_conversions("１箱＝６瓶", "瓶") == {"箱": Decimal(6)}
    with pytest.raises(InvalidInput, match="缺少 盒"):
        parse_conversions("1箱=12盒", "支")
    with pytest.raises(InvalidInput, match="看不懂"):
        parse_conversions("箱子很多", "支")


def test_pinyin_keys():
    assert pinyin_keys("可口可乐") == ("kekoukele", "kkkl")
    assert pinyin_keys("雪碧 500ml") == ("xuebi500ml", "xb500ml")


async def test_product_with_units_and_barcodes(db):
    async with db.session() as s:
        world = await make_world(s)
        product = await make_product(s)
        assert await to_base(s, product, Decimal(3), "箱") == Decimal(72)
        assert await describe_quantity(s, product, Decimal(78)) == "3箱6罐"
        assert await describe_quantity(s, product, Decimal(78), with_base=True) == "3箱6罐（78罐）"
        assert await describe_quantity(s, product, Decimal(6), with_base=True) == "6罐"  # said once
        with pytest.raises(InvalidInput, match="没有单位“托”"):
            await to_base(s, product, Decimal(1), "托")
        # A UPC-A code and its EAN-13 form find the same product.
        await save_product(
            s,
            world.purchaser,
            ProductInput(sku="P002", name="Snickers", base_unit="条", barcodes=["036000291452"]),
        )
        assert (await product_by_barcode(s, "0036000291452")).sku == "P002"
        assert (await product_by_barcode(s, "036000291452")).sku == "P002"
        assert await product_by_barcode(s, "036000291453") is None  # wrong check digit finds nothing


async def test_bad_product_input_writes_nothing(db):
    async with db.session() as s:
        world = await make_world(s)
        await make_product(s)
    bad = [
        (
            ProductInput(sku="X1", name="坏条码", base_unit="瓶", barcodes=["6901234567890"]),
            InvalidInput,
            "校验位",
        ),
        (
            ProductInput(sku="X2", name="负价格", base_unit="瓶", sale_price=Decimal("-1")),
            InvalidInput,
            "不能为负数",
        ),
        (ProductInput(sku="X3", name="没换算", base_unit="瓶", unit="箱"), InvalidInput, "没有换算"),
        (
            ProductInput(sku="X4", name="重复条码", base_unit="瓶", barcodes=["6901234567892"]),
            Duplicate,
            "已属于",
        ),
    ]
    for data, error, message in bad:
        with pytest.raises(error, match=message):
            async with db.session() as s:
                await save_product(s, world.purchaser, data)
    with pytest.raises(Forbidden, match="销售没有权限"):
        async with db.session() as s:
            await save_product(s, world.sales, ProductInput(sku="X5", name="销售建的", base_unit="瓶"))
    async with db.session() as s:
        assert [m.product.sku for m in await search_products(s, "X")] == []


async def test_update_by_sku_is_audited(db):
    async with db.session() as s:
        world = await make_world(s)
        await make_product(s)
        product, created = await save_product(
            s,
            world.manager,
            ProductInput(
                sku="P001",
                name="可口可乐 330ml",
                base_unit="罐",
                sale_price=Decimal("3.80"),
                conversions={"箱": Decimal(24)},
            ),
        )
        assert not created and product.sale_price == Decimal("3.80") and product.version == 2
        from sqlmodel import select

        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "update"))).one()
        assert entry.user_id == world.manager.id
        assert entry.before["sale_price"] == "3.50" and entry.after["sale_price"] == "3.80"


async def test_search_ranks_like_a_salesperson_expects(db):
    async with db.session() as s:
        await make_world(s)
        await make_product(s, "P001", "可口可乐 330ml", barcode="6901234567892")
        await make_product(s, "P002", "零度可口可乐", barcode=None)
        await make_product(s, "P003", "雪碧 500ml", barcode=None)
        await make_product(s, "P004", "康师傅冰红茶", barcode=None)

        def skus(matches):
            return [m.product.sku for m in matches]

        assert skus(await search_products(s, "6901234567892")) == ["P001"]
        assert skus(await search_products(s, "６９０１２３４５６７８９２")) == ["P001"]  # full-width digits
        assert skus(await search_products(s, "P003")) == ["P003"]
        assert skus(await search_products(s, "可口可乐")) == ["P001", "P002"]  # prefix before substring
        assert skus(await search_products(s, "kkkl")) == ["P001", "P002"]  # initials prefix first
        assert skus(await search_products(s, "kkl"))[:1] == ["P001"]
        assert skus(await search_products(s, "xuebi")) == ["P003"]
        assert skus(await search_products(s, "XB")) == ["P003"]
        assert skus(await search_products(s, "冰 红茶")) == ["P004"]  # spaces ignored
        await save_product(s, None, ProductInput(sku="P005", name="雪碧", spec="330ml", base_unit="罐"))
        assert skus(await search_products(s, "雪碧330")) == ["P005"]  # the specification is searched too
        assert skus(await search_products(s, "牛奶")) == []
        assert [p.sku for p in await closest_names(s, "可乐雪碧")][:1] in (["P001"], ["P002"], ["P003"])


async def test_partners_and_warehouses_by_short_name(db):
    async with db.session() as s:
        world = await make_world(s)
        await save_customer(s, world.sales, name="华联超市", credit_limit=Decimal("5000"))
        await save_customer(s, world.sales, name="联华超市浦东店")
        assert (await find_customer(s, "华联")).name == "华联超市"
        assert (await find_customer(s, "hualian")).name == "华联超市"
        with pytest.raises(InvalidInput, match="多个客户"):
            await find_customer(s, "超市")
        with pytest.raises(NotFound, match="^没有找到客户“沃尔玛”$"):
            await find_customer(s, "沃尔玛")
        # A slip of the pinyin input method types a character of the same sound: 华连 is 华联超市 by its sound
        # (hua lian), not 联华超市浦东店, whose pinyin holds hualian only across two words (lian hua chao).
        assert (await find_customer(s, "华连")).name == "华联超市"
        with pytest.raises(NotFound, match="没有找到客户“华联起市”，是不是：华联超市、联华超市浦东店？"):
            await find_customer(s, "华联起市")  # another typo: the names sharing most characters, closest first
        assert (await find_warehouse(s, "门店")).id == world.store.id
        assert (await find_warehouse(s, "MAIN")).id == world.main.id
        with pytest.raises(NotFound, match="现有: 主仓、门店仓"):
            await find_warehouse(s, "北京仓")


async def test_text_codes_are_found_in_any_letter_case_as_soon_as_they_are_saved(db):
    async with db.session() as s:
        world = await make_world(s)
        await make_product(s)
        assert [m.product.sku for m in await search_products(s, "可乐")] == ["P001"]  # the index is built here
        await save_product(s, world.purchaser, ProductInput(sku="P002", name="散装瓜子", base_unit="斤", barcodes=["GZ-2026a"]))
    async with db.session() as s:
        assert [(m.product.sku, m.reason) for m in await search_products(s, "ｇｚ-2026A")] == [("P002", "barcode")]
        assert [(m.product.sku, m.reason) for m in await search_products(s, "6901234567892")] == [("P001", "barcode")]
        # A QR code added to a product whose searched columns do not change still reaches the index.
        await save_product(
            s,
            world.purchaser,
            ProductInput(
                sku="P001",
                name="可口可乐 330ml",
                base_unit="罐",
                conversions={"箱": Decimal(24)},
                barcodes=["https://example.cn/p/1"],
            ),
        )
    async with db.session() as s:
        assert [(m.product.sku, m.reason) for m in await search_products(s, "https://example.cn/p/1")] == [
            ("P001", "barcode")
        ]


async def test_a_name_typed_with_a_character_of_the_same_sound_is_found_by_its_sound(db):
    """Pinyin input methods make the commonest Chinese typo, a character of the same sound: 王老急 for
    王老吉. Such a name is found by its syllables when the text as typed finds nothing, whole syllables
    only (雪币 is not 旺旺雪饼, whose pinyin holds xuebi across xue·bing), ranked below any real match."""
    async with db.session() as s:
        await make_world(s)
        await make_product(s, "P001", "王老吉 310ml", barcode=None)
        await make_product(s, "P002", "雪碧 330ml", barcode=None)
        await make_product(s, "P003", "雪碧 500ml", barcode=None)
        await make_product(s, "P004", "旺旺雪饼", barcode=None)
        await make_product(s, "P005", "可口可乐", barcode=None)

        async def found(text: str) -> list[tuple[str, str]]:
            return [(m.product.sku, m.reason) for m in await search_products(s, text)]

        assert await found("王老急") == [("P001", "homophone")]
        assert await found("雪币") == [("P002", "homophone"), ("P003", "homophone")]
        assert await found("雪币500") == [("P003", "homophone")]
        assert await found("雪碧") == [("P002", "name"), ("P003", "name")]  # typed right: no sound search
        assert await found("可了") == [("P005", "homophone")]  # inside a name, after its start
        assert await found("勒") == []  # one character's sound (le, as in 可乐) is in too many names
        assert await found("王老急饮料") == []  # every syllable must be in the name
        assert [m.score for m in await search_products(s, "可口可了")] == [250]  # below SKU matches (350)
