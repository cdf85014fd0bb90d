"""Catalog and stock benchmark (GitHub issue 2): lookups, search, stock lists and bulk import at scale.

    python bench/catalog.py --backend sqlite|postgres [--products 100000] [--skip-import]

Generates a seeded catalog (by default 100,000 products, 300,000 lots, 1,000,000 movements, about
130,000 barcodes) straight into a fresh database with bulk inserts (executemany on SQLite, COPY on
PostgreSQL), then measures psibot's own functions through `Database.read`, exactly as the bot calls them:

- barcode lookup + stock_of, SKU lookup + stock_of (goal: median < 2 ms, p99 < 10 ms)
- search_products for name substrings, pinyin initials and full pinyin (goal: median < 20 ms)
- low_stock() and near_expiry() full lists, median of 5 (goal: < 1 s each)
- `python -m bot.cli import products FILE` of a 100,000-row CSV into a fresh database, in a
  subprocess: wall time and that process's peak RSS (goal: < 60 s, < 500 MB)

A bare `SELECT 1` through `Database.read` on the same engine is measured in the same run as the
reference, so a reader can judge how loaded the machine was.

The generated ledger is consistent: every lot's movements sum to its on_hand (check_ledger passes;
`--check-ledger` runs it). PostgreSQL uses its own schemas (bench_catalog, bench_catalog_import),
created and dropped by the run; SQLite files live in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import core.documents  # noqa: E402, F401 - registers the document tables
import core.models  # noqa: E402, F401
from core.catalog import (  # noqa: E402
    product_by_barcode,
    product_by_sku,
    search_fields,
    search_index,
    search_products,
)
from core.config import database_url  # noqa: E402
from core.db import Database  # noqa: E402
from core.gtin import gs1_check_digit  # noqa: E402
from core.numbering import Clock  # noqa: E402
from core.stock import low_stock, near_expiry, stock_by_barcode, stock_by_sku, stock_of  # noqa: E402

SEED = 20240602
TODAY = date(2026, 6, 1)  # near_expiry() is asked about this day; lot dates are generated around it
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
CLOCK = Clock(fixed_now=NOW)  # low_stock() counts lots expired by this day as unavailable
POSTGRES_URL = os.environ.get("PSIBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "bench_catalog"
IMPORT_SCHEMA = "bench_catalog_import"

# ---------------------------------------------------------------- word lists

# category: (units, shelf life days range or None for untracked, category near-expiry days,
#            brands, products, specs)
CATEGORIES: dict[str, tuple[list[str], tuple[int, int] | None, int | None, list[str], list[str], list[str]]] = {
    "方便食品": (
        ["袋", "桶", "盒"], (150, 270), 30,
        ["康师傅", "统一", "白象", "今麦郎", "日清", "五谷道场", "农心", "白家陈记", "阿宽", "好欢螺"],
        ["红烧牛肉面", "老坛酸菜牛肉面", "香辣牛肉面", "鲜虾鱼板面", "番茄鸡蛋面", "酸辣粉", "螺蛳粉",
         "过桥米线", "自热火锅", "干拌面", "葱油拌面", "海鲜面", "牛骨汤面", "担担面"],
        ["105g", "120g", "5连包", "桶装", "82g", "138g", "300g"],
    ),
    "饮料": (
        ["瓶", "罐"], (180, 540), None,
        ["可口可乐", "百事", "农夫山泉", "娃哈哈", "元气森林", "王老吉", "加多宝", "红牛", "脉动", "怡宝",
         "百岁山", "东方树叶", "椰树", "露露", "汇源", "美汁源", "康师傅", "统一"],
        ["可乐", "雪碧", "橙汁", "冰红茶", "绿茶", "乌龙茶", "气泡水", "矿泉水", "纯净水", "凉茶",
         "维生素饮料", "椰汁", "苏打水", "杏仁露", "茉莉花茶", "柠檬茶", "酸梅汤", "果粒橙"],
        ["330ml", "500ml", "550ml", "1.25L", "2L", "250ml", "600ml", "1.5L"],
    ),
    "乳制品": (
        ["盒", "瓶", "袋", "杯"], (21, 180), 7,
        ["伊利", "蒙牛", "光明", "君乐宝", "三元", "安慕希", "纯甄", "新希望", "卫岗", "特仑苏", "妙可蓝多"],
        ["纯牛奶", "酸奶", "高钙奶", "低脂奶", "风味酸奶", "奶酪棒", "早餐奶", "核桃奶", "鲜牛奶",
         "儿童成长奶", "脱脂奶", "奶粉"],
        ["250ml", "200g", "1L", "950ml", "100g", "12盒", "205g"],
    ),
    "休闲零食": (
        ["袋", "盒", "罐"], (120, 365), 30,
        ["三只松鼠", "良品铺子", "百草味", "旺旺", "达利园", "好丽友", "乐事", "奥利奥", "徐福记", "盼盼",
         "洽洽", "来伊份", "上好佳", "卫龙", "口水娃", "嘉士利"],
        ["薯片", "饼干", "夏威夷果", "开心果", "瓜子", "牛肉干", "蛋黄派", "雪饼", "威化饼干", "坚果礼盒",
         "话梅", "海苔", "辣条", "锅巴", "沙琪玛", "曲奇", "蛋卷", "果冻", "芒果干", "猪肉脯"],
        ["70g", "100g", "150g", "200g", "500g", "礼盒装", "45g", "1kg"],
    ),
    "调味品": (
        ["瓶", "袋", "罐"], (360, 720), 60,
        ["海天", "李锦记", "老干妈", "太太乐", "恒顺", "千禾", "厨邦", "加加", "王守义", "味事达", "欣和",
         "六月鲜"],
        ["生抽", "老抽", "蚝油", "香醋", "陈醋", "鸡精", "味精", "料酒", "辣椒酱", "豆瓣酱", "十三香",
         "食盐", "白砂糖", "黄豆酱", "芝麻油", "番茄酱", "火锅底料"],
        ["500ml", "1.9L", "400g", "200g", "1kg", "280g", "800ml"],
    ),
    "粮油": (
        ["袋", "桶"], (270, 540), 60,
        ["金龙鱼", "鲁花", "福临门", "胡姬花", "中粮", "五得利", "香满园", "十月稻田", "北大荒", "西王"],
        ["大米", "面粉", "花生油", "菜籽油", "玉米油", "调和油", "挂面", "小米", "东北大米", "糯米",
         "葵花籽油", "橄榄油", "饺子粉"],
        ["5kg", "10kg", "2.5kg", "5L", "1.8L", "900ml", "1kg"],
    ),
    "酒类": (
        ["瓶", "罐"], (270, 720), None,
        ["青岛", "雪花", "燕京", "百威", "哈尔滨", "五粮液", "泸州老窖", "洋河", "汾酒", "牛栏山",
         "红星", "古越龙山", "张裕", "长城"],
        ["啤酒", "纯生啤酒", "白酒", "二锅头", "黄酒", "米酒", "干红葡萄酒", "精酿啤酒", "清爽啤酒"],
        ["330ml", "500ml", "52度500ml", "42度500ml", "750ml", "600ml", "1L"],
    ),
    "冷冻食品": (
        ["袋", "盒"], (180, 365), 15,
        ["三全", "思念", "湾仔码头", "安井", "必品阁", "海霸王", "正大", "避风塘"],
        ["水饺", "汤圆", "馄饨", "鱼丸", "虾饺", "手抓饼", "包子", "烧麦", "牛肉丸", "鸡块", "春卷"],
        ["450g", "500g", "1kg", "400g", "320g", "30只"],
    ),
    "肉制品": (
        ["根", "袋", "盒", "罐"], (90, 270), 15,
        ["双汇", "金锣", "雨润", "得利斯", "梅林", "喜旺", "皇上皇"],
        ["火腿肠", "午餐肉", "香肠", "培根", "烤肠", "腊肠", "鸡肉肠", "卤蛋"],
        ["30g", "240g", "340g", "400g", "10支", "500g"],
    ),
    "日化清洁": (
        ["瓶", "袋", "桶"], None, None,
        ["蓝月亮", "立白", "汰渍", "奥妙", "超能", "雕牌", "威露士", "滴露", "碧浪", "白猫", "妈妈壹选",
         "花王"],
        ["洗衣液", "洗衣粉", "洗洁精", "洗手液", "消毒液", "柔顺剂", "洗衣凝珠", "厨房清洁剂", "洁厕灵",
         "地板清洁剂", "衣领净"],
        ["1kg", "2kg", "3kg", "500g", "1.5L", "500ml", "30颗"],
    ),
    "个人护理": (
        ["支", "瓶", "盒"], None, None,
        ["高露洁", "佳洁士", "云南白药", "黑人", "舒适达", "海飞丝", "飘柔", "潘婷", "清扬", "大宝", "百雀羚",
         "舒肤佳", "六神", "力士", "曼秀雷敦"],
        ["牙膏", "牙刷", "洗发水", "护发素", "面霜", "润肤乳", "漱口水", "沐浴露", "香皂", "护手霜",
         "花露水", "唇膏"],
        ["120g", "180g", "400ml", "750ml", "2支装", "50g", "195ml"],
    ),
    "纸品": (
        ["提", "包", "卷"], None, None,
        ["清风", "心相印", "维达", "洁柔", "得宝", "植护", "斑布", "舒洁"],
        ["抽纸", "卷纸", "湿巾", "手帕纸", "厨房纸", "面巾纸", "湿厕纸"],
        ["3层100抽", "10卷", "6包", "80片", "24包", "4层"],
    ),
}
VARIANTS = ["", "", "", "", "原味", "香辣", "经典", "无糖", "低糖", "家庭装", "特浓", "清香", "加量装",
            "柠檬味", "草莓味", "五香", "麻辣", "芝麻", "实惠装", "新款"]
WAREHOUSES = [("W01", "总仓"), ("W02", "门店仓"), ("W03", "二号仓")]
CASE_UNITS = {"瓶": "箱", "罐": "箱", "袋": "箱", "盒": "箱", "桶": "箱", "支": "盒", "提": "箱", "包": "箱",
              "卷": "提", "根": "箱", "杯": "箱"}


# ---------------------------------------------------------------- generated data


@dataclass
class Catalog:
    categories: list[tuple[Any, ...]]
    suppliers: list[tuple[Any, ...]]
    warehouses: list[tuple[Any, ...]]
    users: list[tuple[Any, ...]]
    products: list[tuple[Any, ...]]
    units: list[tuple[Any, ...]]
    barcodes: list[tuple[Any, ...]]
    lots: list[tuple[Any, ...]]
    movements: list[tuple[Any, ...]]
    csv_rows: list[list[str]]  # the import file, header first
    # for building queries
    names: list[str]
    brands: list[str]
    nouns: list[str]
    base_codes: list[str]
    case_codes: list[str]
    skus: list[str]


COLUMNS = {
    "categories": ["id", "name", "near_expiry_days"],
    "suppliers": ["id", "name", "contact", "phone", "search_key"],
    "warehouses": ["id", "code", "name", "active"],
    "users": ["id", "name", "role", "active", "created_at"],
    "products": [
        "id", "sku", "name", "spec", "category_id", "brand", "base_unit", "sale_price", "purchase_price",
        "safety_stock", "max_stock", "shelf_life_days", "near_expiry_days", "lot_tracked", "active",
        "preferred_supplier_id", "avg_cost", "name_key", "pinyin_full", "pinyin_initials", "version",
        "created_at", "updated_at",
    ],
    "product_units": ["id", "product_id", "name", "factor"],
    "barcodes": ["id", "code", "symbology", "product_id", "unit_id"],
    "lots": ["id", "product_id", "warehouse_id", "lot_no", "production_date", "expiry_date", "on_hand",
             "reserved", "created_at"],
    "movements": ["id", "kind", "product_id", "warehouse_id", "lot_id", "quantity", "unit_cost", "ref_type",
                  "ref_id", "ref_no", "reason", "user_id", "created_at"],
}


def ean13(body12: str) -> str:
    return body12 + str(gs1_check_digit(body12))


def generate(n_products: int) -> Catalog:
    """Everything, deterministic for a seed: Decimal columns as their scaled integers (see core.columns)."""
    rng = random.Random(SEED)
    cat_names = list(CATEGORIES)
    categories = [(i + 1, name, CATEGORIES[name][2]) for i, name in enumerate(cat_names)]
    suppliers = [(i + 1, f"供应商{i + 1:03d}商贸有限公司", "", "", "") for i in range(200)]
    warehouses = [(i + 1, code, name, True) for i, (code, name) in enumerate(WAREHOUSES)]
    users = [(1, "管理员", "ADMIN", True, NOW)]

    pinyin_cache: dict[str, dict[str, str]] = {}
    products, units, barcodes, lots, movements, names = [], [], [], [], [], []
    base_codes, case_codes, skus = [], [], []
    csv_rows = [["编码", "名称", "条码", "单位", "规格", "分类", "品牌", "售价", "进价", "安全库存", "保质期天数",
                 "临期天数", "换算"]]
    lot_id = movement_id = unit_id = barcode_id = 0
    kinds_out = ["SALES_SHIPMENT"] * 8 + ["PURCHASE_RETURN", "TRANSFER_OUT"]
    for index in range(n_products):
        pid = index + 1
        cat_index = rng.randrange(len(cat_names))
        cat = cat_names[cat_index]
        unit_choices, shelf_range, _, brands, nouns, specs = CATEGORIES[cat]
        brand, noun, spec, variant = rng.choice(brands), rng.choice(nouns), rng.choice(specs), rng.choice(VARIANTS)
        name = f"{brand}{variant}{noun} {spec}"
        keys = pinyin_cache.get(name)
        if keys is None:
            keys = pinyin_cache[name] = search_fields(name)
        base_unit = rng.choice(unit_choices)
        shelf = rng.randint(*shelf_range) if shelf_range else None
        tracked = shelf is not None
        purchase_cents = rng.randint(150, 8000)
        sale_cents = purchase_cents * rng.randint(110, 160) // 100
        has_safety = rng.random() < 0.7
        safety = rng.choice([6, 10, 12, 20, 24, 50, 100]) if has_safety else 0
        max_stock = safety * 5 if has_safety and rng.random() < 0.5 else None
        own_lead = rng.choice([7, 15, 30]) if tracked and rng.random() < 0.1 else None
        active = rng.random() < 0.98
        supplier = rng.randrange(1, 201) if rng.random() < 0.6 else None
        sku = f"SP{pid:06d}"
        created = NOW - timedelta(days=400 - index * 300 // n_products)
        products.append((
            pid, sku, name, spec, cat_index + 1, brand, base_unit, sale_cents, purchase_cents,
            safety * 1000, None if max_stock is None else max_stock * 1000, shelf, own_lead, tracked, active,
            supplier, purchase_cents * 10_000, keys["name_key"], keys["pinyin_full"], keys["pinyin_initials"], 1,
            created, created,
        ))
        names.append(name)
        skus.append(sku)
        # units and barcodes: every product an EAN-13 (GS1 China prefix 69); 40% a case unit with its own code
        code = ean13(f"69{(pid * 7919) % 10**10:010d}")
        barcode_id += 1
        barcodes.append((barcode_id, code, "EAN-13", pid, None))
        base_codes.append(code)
        factor = None
        if rng.random() < 0.4:
            factor = rng.choice([6, 12, 20, 24, 48])
            unit_id += 1
            units.append((unit_id, pid, CASE_UNITS[base_unit], factor * 1000))
            case = ean13(f"69{(pid * 7919 + 5_000_000_000) % 10**10:010d}")
            barcode_id += 1
            barcodes.append((barcode_id, case, "EAN-13", pid, unit_id))
            case_codes.append(case)
        csv_rows.append([
            sku, name, code, base_unit, spec, cat, brand, f"{sale_cents / 100:.2f}", f"{purchase_cents / 100:.2f}",
            str(safety) if safety else "", str(shelf) if shelf else "", str(own_lead) if own_lead else "",
            f"1{CASE_UNITS[base_unit]}={factor}{base_unit}" if factor else "",
        ])

        # stock: 12% of products with a safety stock are below it; the rest hold 1-10x of it
        if has_safety and rng.random() < 0.12:
            total = rng.randint(0, safety - 1)
        else:
            total = rng.randint(max(safety, 5), max(safety, 5) * 10)
        # three lots per product: untracked → the '' lot in each warehouse, tracked → three dated lots
        split = sorted(rng.randint(0, total) for _ in range(2))
        amounts = [split[0], split[1] - split[0], total - split[1]]
        if tracked:
            assert shelf is not None
            places = sorted(rng.sample([1, 2, 3], 2) + [rng.randint(1, 3)])
            lot_specs = []
            for n, warehouse in enumerate(places):
                produced = TODAY - timedelta(days=rng.randint(0, shelf + 20))  # a few lots already expired
                lot_specs.append((warehouse, f"{produced:%Y%m%d}-{n + 1}", produced, produced + timedelta(days=shelf)))
        else:
            lot_specs = [(w, "", None, None) for w in (1, 2, 3)]
        counts = [4, 3, 3]
        for (warehouse, lot_no, produced, expiry), on_hand, m in zip(lot_specs, amounts, counts, strict=True):
            lot_id += 1
            reserved = rng.randint(0, on_hand) if on_hand and rng.random() < 0.05 else 0
            start = created + timedelta(days=rng.randint(0, 10))
            lots.append((lot_id, pid, warehouse, lot_no, produced, expiry, on_hand * 1000, reserved * 1000, start))
            # movements: receipts first, then outgoing, summing exactly to on_hand (never negative)
            second_in = rng.randint(5, 60) if m >= 3 else 0
            outgoing = rng.randint(0, 40 * (m - 1))
            first_in = on_hand + outgoing - second_in
            if first_in <= 0:
                second_in, first_in = 0, on_hand + outgoing
            n_out = m - 1 - (1 if second_in else 0)
            cuts = sorted(rng.randint(0, outgoing) for _ in range(n_out - 1)) if n_out > 0 else []
            outs = [b - a for a, b in zip([0, *cuts], [*cuts, outgoing], strict=True)] if n_out > 0 else []
            if n_out == 0 and outgoing:
                first_in -= outgoing
            steps = [("OPENING", first_in)]
            if second_in:
                steps.append(("PURCHASE_RECEIPT", second_in))
            steps += [(rng.choice(kinds_out), -q) for q in outs]
            when = start
            for kind, quantity in steps:
                movement_id += 1
                when += timedelta(hours=rng.randint(1, 24 * 20))
                ref = "sales_order" if kind == "SALES_SHIPMENT" else "purchase_order" if kind != "OPENING" else ""
                movements.append((
                    movement_id, kind, pid, warehouse, lot_id, quantity * 1000, purchase_cents * 10_000,
                    ref, movement_id if ref else None, f"R{movement_id:08d}" if ref else "", "", 1, when,
                ))
    return Catalog(
        categories, suppliers, warehouses, users, products, units, barcodes, lots, movements, csv_rows,
        names, sorted({b for c in CATEGORIES.values() for b in c[3]}),
        sorted({n for c in CATEGORIES.values() for n in c[4]}), base_codes, case_codes, skus,
    )


# ---------------------------------------------------------------- loading


TABLE_ORDER = ["categories", "suppliers", "warehouses", "users", "products", "product_units", "barcodes", "lots",
               "movements"]


def table_rows(catalog: Catalog, table: str) -> list[tuple[Any, ...]]:
    return {
        "categories": catalog.categories, "suppliers": catalog.suppliers, "warehouses": catalog.warehouses,
        "users": catalog.users, "products": catalog.products, "product_units": catalog.units,
        "barcodes": catalog.barcodes, "lots": catalog.lots, "movements": catalog.movements,
    }[table]


def _sqlite_value(value: Any) -> Any:
    # the same text SQLAlchemy's SQLite DateTime/Date types write (AwareDateTime stores naive UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


async def create_schema(database: Database) -> None:
    async with database.write_engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)


async def load(database: Database, catalog: Catalog, schema: str | None) -> None:
    async with database.write_engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for table in TABLE_ORDER:
            rows, columns = table_rows(catalog, table), COLUMNS[table]
            if schema is not None:  # PostgreSQL: COPY through asyncpg
                await raw.copy_records_to_table(table, records=rows, columns=columns, schema_name=schema)
                await raw.execute(
                    f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', 'id'), {max(len(rows), 1)})"
                )
            else:  # SQLite: executemany of plain tuples in one transaction
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                for start in range(0, len(rows), 50_000):
                    await connection.exec_driver_sql(
                        sql, [tuple(_sqlite_value(v) for v in row) for row in rows[start : start + 50_000]]
                    )
        await connection.commit()
        if schema is not None:
            # What autovacuum does within a minute of a bulk load (PostgreSQL 13+ vacuums after
            # inserts too): statistics, and the visibility map index-only scans rely on.
            await raw.execute("VACUUM ANALYZE")
        else:
            await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a quiet minute would


# ---------------------------------------------------------------- measuring


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Result:
    name: str
    times_ms: list[float]
    goal: str
    ok: bool | None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p99(self) -> float:
        return percentile(self.times_ms, 0.99)


async def timed_reads(
    database: Database, items: Iterable[Any], work: Callable[[AsyncSession, Any], Awaitable[Any]], warmup: int = 5
) -> tuple[list[float], list[Any]]:
    items = list(items)
    for item in items[:warmup]:
        await database.read(lambda s, i=item: work(s, i))
    times, outputs = [], []
    for item in items:
        start = time.perf_counter()
        output = await database.read(lambda s, i=item: work(s, i))
        times.append((time.perf_counter() - start) * 1000)
        outputs.append(output)
    return times, outputs


def queries(catalog: Catalog, rng: random.Random, count: int) -> dict[str, list[str]]:
    """Search texts as people type them: brands, product words, two characters, initials, pinyin."""
    names = catalog.names
    name_q: list[str] = []
    initials_q: list[str] = []
    pinyin_q: list[str] = []
    for i in range(count):
        name = rng.choice(names)
        words = [catalog.brands, catalog.nouns][i % 2]
        kind = i % 4
        if kind == 0:
            name_q.append(rng.choice(catalog.brands))  # 康师傅
        elif kind == 1:
            name_q.append(rng.choice(catalog.nouns))  # 牛肉面
        elif kind == 2:
            start = rng.randrange(0, max(1, name.index(" ") - 1))
            name_q.append(name[start : start + 2])  # two characters from a name
        else:
            brand = next(b for b in catalog.brands if name.startswith(b))
            noun = next((n for n in catalog.nouns if n in name), "")
            name_q.append(brand + noun if noun and rng.random() < 0.5 else name.split(" ")[0])  # 伊利纯牛奶
        word = rng.choice(words)
        full, initials = search_fields(word)["pinyin_full"], search_fields(word)["pinyin_initials"]
        initials_q.append(initials if len(initials) >= 2 else search_fields(name)["pinyin_initials"][:4])
        pinyin_q.append(full if rng.random() < 0.6 else full[: max(3, len(full) * 2 // 3)])
    return {"name": name_q, "pinyin_initials": initials_q, "pinyin_full": pinyin_q}


def hit_counts(catalog: Catalog, texts: list[str], field: str) -> list[int]:
    index = {"name": 17, "pinyin_initials": 19, "pinyin_full": 18}[field]
    values = [p[index] for p in catalog.products]
    return [sum(1 for v in values if t in v) for t in texts]


async def measure(database: Database, catalog: Catalog, n_queries: int) -> list[Result]:
    rng = random.Random(SEED + 1)
    results: list[Result] = []

    async def select_one(session: AsyncSession, _: Any) -> Any:
        return (await session.execute(text("SELECT 1"))).scalar()

    times, _ = await timed_reads(database, range(n_queries), select_one)
    results.append(Result("reference: SELECT 1 through Database.read", times, "-", None))

    async def by_barcode(session: AsyncSession, code: str) -> Any:
        product = await product_by_barcode(session, code)
        assert product is not None, code
        return await stock_of(session, product.id or 0)

    codes = [rng.choice(catalog.case_codes if rng.random() < 0.25 else catalog.base_codes) for _ in range(n_queries)]
    times, _ = await timed_reads(database, codes, by_barcode)
    results.append(Result("barcode lookup + stock_of", times, "median < 2 ms, p99 < 10 ms", None))

    async def by_sku(session: AsyncSession, sku: str) -> Any:
        product = await product_by_sku(session, sku)
        assert product is not None, sku
        return await stock_of(session, product.id or 0)

    skus = [rng.choice(catalog.skus) for _ in range(n_queries)]
    times, _ = await timed_reads(database, skus, by_sku)
    results.append(Result("SKU lookup + stock_of", times, "median < 2 ms, p99 < 10 ms", None))

    async def by_barcode_one(session: AsyncSession, code: str) -> Any:
        stock = await stock_by_barcode(session, code)
        assert stock is not None, code
        return stock

    times, _ = await timed_reads(database, codes, by_barcode_one)
    results.append(Result("stock_by_barcode (one statement)", times, "median < 2 ms, p99 < 10 ms", None))

    async def by_sku_one(session: AsyncSession, sku: str) -> Any:
        stock = await stock_by_sku(session, sku)
        assert stock is not None, sku
        return stock

    times, _ = await timed_reads(database, skus, by_sku_one)  # the same codes and SKUs: rng draws as before
    results.append(Result("stock_by_sku (one statement)", times, "median < 2 ms, p99 < 10 ms", None))

    # The search index: built on the first search of a process (and after every catalog change).
    start = time.perf_counter()
    index = await database.read(search_index)
    build_ms = (time.perf_counter() - start) * 1000
    size = sum(
        sys.getsizeof(part)
        for column in (index.skus, index.folded_skus, index.names, index.full, index.initials)
        for part in (column.text, column.starts)
    ) + sum(sys.getsizeof(part) for part in (index.ids, index.name_lengths, index.active))
    results.append(Result(
        "search index load (first search after a catalog change)", [build_ms], "-", None,
        f"{len(index):,} products, {size / 1e6:.1f} MB in strings and arrays",
    ))

    async def search(session: AsyncSession, q: str) -> Any:
        return await search_products(session, q)

    for field, texts in queries(catalog, rng, n_queries).items():
        times, outputs = await timed_reads(database, texts, search)
        hits = hit_counts(catalog, texts, field)
        found = sum(1 for o in outputs if o)
        note = (f"{len(texts)} queries, e.g. {', '.join(dict.fromkeys(texts[:4]))}; products containing the text: "
                f"median {statistics.median(hits):.0f}, max {max(hits)}; {found} of {len(texts)} found something")
        results.append(Result(f"search_products: {field.replace('_', ' ')}", times, "median < 20 ms", None, note))

    times, outputs = await timed_reads(database, range(5), lambda s, _: low_stock(s, clock=CLOCK), warmup=1)
    results.append(Result("low_stock() full list", times, "< 1 s", None, f"{len(outputs[0])} rows"))
    times, outputs = await timed_reads(database, range(5), lambda s, _: near_expiry(s, TODAY), warmup=1)
    results.append(Result("near_expiry() full list", times, "< 1 s", None, f"{len(outputs[0])} lots"))
    for result in results:
        print(f"{result.name}: median {result.median:.2f} ms", file=sys.stderr)
        if "p99 <" in result.goal:
            result.ok = result.median < 2 and result.p99 < 10
        elif result.goal == "median < 20 ms":
            result.ok = result.median < 20
        elif result.goal == "< 1 s":
            result.ok = max(result.times_ms) < 1000
    return results


# The import runs as `python -m bot.cli import products FILE` would, and then prints its own peak RSS
# (VmHWM) from /proc. Not ru_maxrss from wait4: Linux carries the parent's peak into a child across
# fork and exec, and this process holds the generated catalog (about 700 MB), so ru_maxrss reported
# the bench's memory, not the import's.
_IMPORT_CHILD = """
import sys
from bot.cli import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("peak_kb", peak.split()[1], file=sys.stderr)
raise SystemExit(code)
"""


def run_import(backend: str, csv_path: Path, workdir: Path) -> Result:
    """`psibot import products FILE` into a fresh database; wall time and peak RSS of that process."""
    env = dict(os.environ)
    if backend == "sqlite":
        env["PSIBOT_DATABASE_URL"] = f"sqlite:///{workdir / 'import.db'}"
    else:
        # asyncpg passes unknown DSN parameters as server settings: the CLI works in the bench's own schema
        env["PSIBOT_DATABASE_URL"] = f"{POSTGRES_URL}?dsn=postgresql:///?search_path%3D{IMPORT_SCHEMA}"
    env.pop("PSIBOT_REDIS_URL", None)
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, "import", "products", str(csv_path)],
        cwd=workdir, env={**env, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"import failed ({process.returncode}):\n{process.stdout}\n{process.stderr[-3000:]}")
    rss_mb = int(process.stderr.split("peak_kb")[-1].split()[0]) / 1024
    out = process.stdout.strip()
    return Result(
        "import products (CLI, fresh database)", [wall * 1000], "< 60 s, RSS < 500 MB",
        wall < 60 and rss_mb < 500, f"peak RSS {rss_mb:.0f} MB; {out.splitlines()[-1] if out else ''}",
    )


# ---------------------------------------------------------------- main


async def pg_schema(name: str, *, drop: bool) -> None:
    admin = Database(database_url(POSTGRES_URL))
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        if not drop:
            await connection.execute(text(f'CREATE SCHEMA "{name}"'))
    await admin.close()


def fmt(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 10_000 else f"{ms:.0f} ms" if ms >= 100 else f"{ms:.2f} ms"


async def query_plans(database: Database, catalog: Catalog) -> list[str]:
    """The plans of the statements stock_by_barcode and near_expiry send, with their own parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    engine = database.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await database.read(lambda s: stock_by_barcode(s, catalog.case_codes[0]))
        barcode_statement = sent[-1]
        await database.read(lambda s: near_expiry(s, TODAY))
        near_expiry_statement = sent[-1]
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    sqlite = database.is_sqlite
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
    lines = []
    async with database.read_engine.connect() as connection:
        for name, (statement, parameters) in (
            ("stock_by_barcode", barcode_statement),
            ("near_expiry", near_expiry_statement),
        ):
            rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
            plan = [row[3] if sqlite else row[0] for row in rows]
            if not sqlite:  # the plan nodes, and whether an index-only scan visited the table
                plan = [step for n, step in enumerate(plan) if n == 0 or "->" in step or "Heap Fetches" in step]
            lines.append(f"{name}: " + " / ".join(step.strip() for step in plan))
    return lines


def report(
    backend: str, results: list[Result], counts: dict[str, int], timings: dict[str, float], plans: list[str]
) -> str:
    lines = [
        f"### {backend}",
        "",
        "Data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
        + "; " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ".",
        "",
        "| measurement | n | median | p99 | max | goal | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        met = "-" if r.ok is None else "met" if r.ok else "**missed**"
        single = len(r.times_ms) == 1
        lines.append(
            f"| {r.name} | {len(r.times_ms)} | {fmt(r.median)} | {'-' if single else fmt(r.p99)} | "
            f"{'-' if single else fmt(max(r.times_ms))} | {r.goal} | {met} |"
        )
    notes = [f"- {r.name}: {r.note}" for r in results if r.note] + [f"- plan of {plan}" for plan in plans]
    return "\n".join(lines + [""] + notes) + "\n"


async def main_async(args: argparse.Namespace) -> str:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    catalog = generate(args.products)
    timings["generate"] = time.perf_counter() - start
    counts = {t: len(table_rows(catalog, t)) for t in ("products", "barcodes", "product_units", "lots", "movements")}
    print(f"generated {counts} in {timings['generate']:.0f} s", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench_catalog_") as tmp:
        workdir = Path(tmp)
        if args.backend == "sqlite":
            path = args.keep_sqlite or workdir / "bench.db"
            database, schema = Database(database_url(f"sqlite:///{path}")), None
        else:
            await pg_schema(SCHEMA, drop=False)
            database, schema = Database(database_url(POSTGRES_URL), pg_schema=SCHEMA), SCHEMA
        try:
            start = time.perf_counter()
            if not (args.keep_sqlite and args.keep_sqlite.exists()):
                await create_schema(database)
                await load(database, catalog, schema)
            timings["load"] = time.perf_counter() - start
            print(f"loaded in {timings['load']:.0f} s", file=sys.stderr)
            if args.check_ledger:
                from core.ledger import check_ledger

                differences = await database.read(check_ledger)
                print(f"check_ledger: {len(differences)} differences", file=sys.stderr)
                assert not differences
            # the generated rows are no longer needed; keep the garbage collector from walking them
            catalog.movements.clear()
            catalog.lots.clear()
            gc.collect()
            gc.freeze()
            results = await measure(database, catalog, args.queries)
            plans = await query_plans(database, catalog)
        finally:
            await database.close()
            if schema:
                await pg_schema(schema, drop=True)
        if not args.skip_import:
            csv_path = workdir / "products.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as file:
                csv.writer(file).writerows(catalog.csv_rows)
            if args.backend == "postgres":
                await pg_schema(IMPORT_SCHEMA, drop=False)
            try:
                results.append(run_import(args.backend, csv_path, workdir))
            finally:
                if args.backend == "postgres":
                    await pg_schema(IMPORT_SCHEMA, drop=True)
    return report(args.backend, results, counts, timings, plans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="queries per lookup/search kind")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--keep-sqlite", type=Path, help="SQLite: keep the loaded database in this file")
    parser.add_argument("--check-ledger", action="store_true", help="run core.ledger.check_ledger on the data")
    args = parser.parse_args()
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    text_report = asyncio.run(main_async(args))
    load_after = os.getloadavg()
    print(
        f"{text_report}\nCommand: python bench/catalog.py --backend {args.backend} --products {args.products}; "
        f"started {started:%Y-%m-%d %H:%M} UTC; {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after."
    )


if __name__ == "__main__":
    main()
