"""The in-process search index: the same ranking as `_score`, no candidate cap, fresh across instances."""

import random
from types import SimpleNamespace

from sqlalchemy import update

import core.catalog
from core.catalog import (
    CATALOG_RECHECK_SECONDS,
    ProductInput,
    SearchIndex,
    _score,
    fold,
    save_product,
    search_fields,
    search_index,
    search_products,
)
from core.models import Product, Setting
from core.preferences import CATALOG_VERSION, bump_catalog_version, catalog_version
from tests.factories import make_product

WORDS = ["可口可乐", "可乐", "雪碧", "红茶", "冰红茶", "康师傅", "牛肉面", "乐事", "薯片", "ml", "330", "kk", "口"]


def _reference(rows: list[tuple], q: str, limit: int, include_inactive: bool) -> list[tuple[int, int, str]]:
    """What search_products did before the index: score every matching row, sort by (-score, len, sku)."""
    scored = []
    for product_id, sku, name, name_key, full, initials, active in rows:
        if not (active or include_inactive):
            continue
        keys = SimpleNamespace(sku=sku, name_key=name_key, pinyin_full=full, pinyin_initials=initials)
        result = _score(keys, q)
        if result is not None:
            scored.append((result[0], result[1], product_id, name, sku))
    scored.sort(key=lambda m: (-m[0], len(m[3]), m[4]))
    return [(product_id, score, reason) for score, reason, product_id, _, _ in scored[:limit]]


def _random_rows(rng: random.Random, n: int) -> list[tuple]:
    rows = []
    for i in range(n):
        name = "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        spec = rng.choice(["", "330ml", "500ml", "5连包"])
        keys = search_fields(name, spec)
        sku = rng.choice(["P", "KK", "X"]) + str(rng.randint(1, 60))  # duplicates allowed here: ties by sku
        rows.append((i + 1, sku, name, keys["name_key"], keys["pinyin_full"], keys["pinyin_initials"], rng.random() < 0.9))
    return rows


def test_index_ranks_exactly_like_score_on_random_catalogs():
    rng = random.Random(7)
    for _ in range(20):
        rows = _random_rows(rng, rng.randint(0, 300))
        rng.shuffle(rows)
        index = SearchIndex("v", rows)
        texts = [fold(w) for w in WORDS] + ["kekou", "kkkl", "kl", "xb", "hongcha", "p1", "x4", "33", "乐3", "zz", "e"]
        for q in texts:
            for limit in (1, 3, 10, 500):
                for include_inactive in (False, True):
                    got = index.search(q, limit=limit, include_inactive=include_inactive)
                    want = _reference(rows, q, limit, include_inactive)
                    # ids with equal (score, name length, sku) may come in either order
                    assert [(s, r) for _, s, r in got] == [(s, r) for _, s, r in want], (q, limit)
                    assert sorted(got) == sorted(want) or len(want) == limit, (q, limit)


def test_index_finds_first_occurrences_and_exact_skus():
    index = SearchIndex(None, [(5, "A1", "aa", "aaxaa", "", "", True), (9, "B2", "b", "", "ab", "aa", False)])
    assert index.search("aa", limit=10) == [(5, 800, "name")]
    assert index.search("aa", limit=10, include_inactive=True) == [(5, 800, "name"), (9, 650, "pinyin_initials")]
    assert index.search("xa", limit=10) == [(5, 698, "name")]
    assert index.search("a\nb", limit=10) == []
    assert index.by_sku("B2") == (9, False) and index.by_sku("A1") == (5, True)
    assert index.by_sku("A") is None and index.by_sku("") is None
    assert len(SearchIndex(None, [])) == 0 and SearchIndex(None, []).search("a", limit=5) == []


async def test_exact_name_is_never_lost_among_many_matches(db):
    async with db.session() as s:
        for i in range(600):
            await make_product(s, f"C{i:03d}", f"百事可乐{i}号", barcode=None, case=None)
        await make_product(s, "Z999", "可乐", barcode=None, case=None)
    async with db.session() as s:
        matches = await search_products(s, "可乐", limit=3)
        assert [m.product.sku for m in matches][:1] == ["Z999"]
        assert matches[0].score == 900


async def test_a_change_by_another_instance_is_seen_through_the_version(db):
    async with db.session() as s:
        cola = await make_product(s, "P001", "可口可乐", barcode=None)
        await make_product(s, "P002", "雪碧", barcode=None)
    async with db.session() as s:
        assert [m.product.sku for m in await search_products(s, "kkkl")] == ["P001"]
        before = await catalog_version(s)
        assert (await search_index(s)).version == before
    # Another process renames the product with plain SQL and bumps the version in its transaction.
    async with db.session() as s:
        await s.execute(update(Product).where(Product.id == cola.id).values(**search_fields("芬达"), name="芬达"))
        await bump_catalog_version(s)
    async with db.session() as s:
        assert await catalog_version(s) != before
        assert await search_products(s, "kkkl") == []
        assert [m.product.sku for m in await search_products(s, "fd")] == ["P001"]
    # A rolled-back bump leaves the committed catalog searchable as it is.
    try:
        async with db.session() as s:
            await make_product(s, "P003", "可比克", barcode=None)
            assert [m.product.sku for m in await search_products(s, "kbk")] == ["P003"]
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    async with db.session() as s:
        assert await search_products(s, "kbk") == []


async def test_another_instance_s_change_is_seen_within_the_recheck_interval(db, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(core.catalog, "monotonic", lambda: clock[0])
    async with db.session() as s:
        cola = await make_product(s, "P001", "可口可乐", barcode=None)
    async with db.session() as s:
        assert [m.product.sku for m in await search_products(s, "kkkl")] == ["P001"]
    # Another instance renames the product and bumps the version: nothing in this process is told.
    async with db.session() as s:
        await s.execute(update(Product).where(Product.id == cola.id).values(**search_fields("芬达"), name="芬达"))
        await s.execute(update(Setting).where(Setting.key == CATALOG_VERSION).values(value="another-instance"))
    clock[0] += CATALOG_RECHECK_SECONDS / 2
    async with db.session() as s:  # the index is trusted without reading the version: still the old keys
        assert [m.product.sku for m in await search_products(s, "fd")] == []
    clock[0] += CATALOG_RECHECK_SECONDS
    async with db.session() as s:
        assert await search_products(s, "kkkl") == []
        assert [m.product.sku for m in await search_products(s, "fd")] == ["P001"]
        assert (await search_index(s)).version == "another-instance"


async def test_a_catalog_change_of_this_process_is_searchable_once_committed_and_not_before(db, monkeypatch):
    monkeypatch.setattr(core.catalog, "monotonic", lambda: 1000.0)  # the interval never runs out here
    async with db.session() as s:
        await make_product(s, "P001", "可口可乐", barcode=None)
    assert [m.product.sku for m in await db.read(lambda s: search_products(s, "kkkl"))] == ["P001"]
    committed = await db.read(catalog_version)
    async with db.session() as writer:
        await make_product(writer, "P003", "可比克", barcode=None)
        assert [m.product.sku for m in await search_products(writer, "kbk")] == ["P003"]
        # Another transaction meanwhile does not take the index the writer built for its own.
        assert (await db.read(search_index)).version == committed
        assert await db.read(lambda s: search_products(s, "kbk")) == []
    assert [m.product.sku for m in await db.read(lambda s: search_products(s, "kbk"))] == ["P003"]
    try:
        async with db.session() as writer:
            await make_product(writer, "P004", "乐事", barcode=None)
            assert [m.product.sku for m in await search_products(writer, "ls")] == ["P004"]
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert await db.read(lambda s: search_products(s, "ls")) == []


async def test_deactivating_through_save_product_bumps_the_version(db):
    async with db.session() as s:
        await make_product(s, "P001", "可口可乐", barcode=None)
    async with db.session() as s:
        assert [m.product.sku for m in await search_products(s, "可口")] == ["P001"]
        version = await catalog_version(s)
    async with db.session() as s:
        data = ProductInput(sku="P001", name="可口可乐", base_unit="罐", category="饮料", active=False)
        await save_product(s, None, data)
    async with db.session() as s:
        assert await catalog_version(s) != version
        assert await search_products(s, "可口") == []
        assert [m.product.sku for m in await search_products(s, "可口", include_inactive=True)] == ["P001"]


async def test_stock_by_barcode_and_sku_equal_lookup_then_stock_of(db):
    from datetime import date
    from decimal import Decimal

    from core import ledger
    from core.catalog import product_by_barcode
    from core.stock import stock_by_barcode, stock_by_sku, stock_of
    from tests.factories import make_world

    async with db.session() as s:
        world = await make_world(s)
        milk = await make_product(s, "M1", "鲜牛奶", barcode="6901234567892", shelf_life_days=7)
        await make_product(s, "E1", "空的", barcode="012345678905")  # UPC-A, stored as its EAN-13 form
        for warehouse, lot, expiry, quantity in [
            (world.store, "B", date(2026, 12, 1), 5), (world.main, "A", date(2026, 12, 3), 7),
            (world.main, "C", date(2026, 11, 30), 2), (world.main, "D", None, 1),
        ]:
            await ledger.opening_stock(s, world.warehouse_user, product_id=milk.id, warehouse_id=warehouse.id,
                                       quantity=Decimal(quantity), lot_no=lot, expiry_date=expiry)
    async with db.session() as s:
        for include_empty in (False, True):
            want = await stock_of(s, milk.id, include_empty_lots=include_empty)
            assert [(w.warehouse_name, [lot.lot_no for lot in w.lots]) for w in want.warehouses] == [
                (world.main.name, ["C", "A", "D"]), (world.store.name, ["B"])
            ]
            assert await stock_by_barcode(s, "6901234567892", include_empty_lots=include_empty) == want
            assert await stock_by_sku(s, " M1 ", include_empty_lots=include_empty) == want
        empty = await stock_by_barcode(s, "012345678905")
        assert empty is not None and empty.product.sku == "E1" and empty.warehouses == () and empty.on_hand == 0
        assert empty.product == await product_by_barcode(s, "0012345678905")  # the same columns
        assert await stock_by_barcode(s, "6901234567890") is None
        assert await stock_by_barcode(s, "") is None
        assert await stock_by_sku(s, "nope") is None
