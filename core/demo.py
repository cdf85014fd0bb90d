"""A believable demo company: a drinks-and-snacks wholesaler in Shanghai with two warehouses.

Deterministic (fixed seed) so a demo looks the same on every machine, and relative to `today` so some
lots are always near expiry or expired and some products always under their safety stock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import ProductInput, save_customer, save_product, save_supplier, save_warehouse
from core.gtin import gs1_check_digit
from core.ledger import opening_stock
from core.models import Product, Role, User
from core.users import add_user

# name, spec, category, brand, base unit, case unit, per case, sale price per base unit, shelf life days
_CATALOG: list[tuple[str, str, str, str, str, str, int, str, int | None]] = [
    ("可口可乐", "330ml", "饮料", "可口可乐", "罐", "箱", 24, "3.50", 365),
    ("可口可乐", "500ml", "饮料", "可口可乐", "瓶", "箱", 24, "3.80", 365),
    ("零度可口可乐", "330ml", "饮料", "可口可乐", "罐", "箱", 24, "3.80", 365),
    ("雪碧", "330ml", "饮料", "可口可乐", "罐", "箱", 24, "3.30", 365),
    ("雪碧", "500ml", "饮料", "可口可乐", "瓶", "箱", 24, "3.80", 365),
    ("芬达橙味", "500ml", "饮料", "可口可乐", "瓶", "箱", 24, "3.80", 365),
    ("百事可乐", "330ml", "饮料", "百事", "罐", "箱", 24, "3.30", 365),
    ("美年达", "500ml", "饮料", "百事", "瓶", "箱", 24, "3.50", 365),
    ("农夫山泉", "550ml", "饮用水", "农夫山泉", "瓶", "箱", 24, "2.00", 540),
    ("农夫山泉", "1.5L", "饮用水", "农夫山泉", "瓶", "箱", 12, "4.50", 540),
    ("怡宝纯净水", "555ml", "饮用水", "怡宝", "瓶", "箱", 24, "2.00", 540),
    ("百岁山", "570ml", "饮用水", "百岁山", "瓶", "箱", 24, "3.00", 540),
    ("康师傅冰红茶", "500ml", "茶饮料", "康师傅", "瓶", "箱", 15, "3.00", 270),
    ("康师傅绿茶", "500ml", "茶饮料", "康师傅", "瓶", "箱", 15, "3.00", 270),
    ("统一冰红茶", "500ml", "茶饮料", "统一", "瓶", "箱", 15, "3.00", 270),
    ("东方树叶乌龙茶", "500ml", "茶饮料", "农夫山泉", "瓶", "箱", 15, "5.50", 365),
    ("王老吉", "310ml", "茶饮料", "王老吉", "罐", "箱", 24, "4.00", 540),
    ("加多宝", "310ml", "茶饮料", "加多宝", "罐", "箱", 24, "4.00", 540),
    ("红牛维生素功能饮料", "250ml", "功能饮料", "红牛", "罐", "箱", 24, "6.00", 540),
    ("东鹏特饮", "500ml", "功能饮料", "东鹏", "瓶", "箱", 24, "5.00", 365),
    ("脉动青柠味", "600ml", "功能饮料", "达能", "瓶", "箱", 15, "5.00", 365),
    ("伊利纯牛奶", "250ml", "乳制品", "伊利", "盒", "箱", 24, "3.50", 180),
    ("蒙牛纯牛奶", "250ml", "乳制品", "蒙牛", "盒", "箱", 24, "3.50", 180),
    ("特仑苏纯牛奶", "250ml", "乳制品", "蒙牛", "盒", "箱", 12, "6.00", 180),
    ("安慕希原味酸奶", "205g", "乳制品", "伊利", "盒", "箱", 12, "5.50", 150),
    ("光明鲜牛奶", "950ml", "乳制品", "光明", "瓶", "箱", 8, "13.50", 7),
    ("旺仔牛奶", "245ml", "乳制品", "旺旺", "罐", "箱", 24, "4.50", 360),
    ("养乐多", "100ml", "乳制品", "养乐多", "瓶", "排", 5, "2.40", 35),
    ("青岛啤酒经典", "500ml", "酒类", "青岛", "罐", "箱", 24, "6.00", 365),
    ("雪花勇闯天涯", "500ml", "酒类", "雪花", "罐", "箱", 12, "5.00", 365),
    ("百威啤酒", "500ml", "酒类", "百威", "罐", "箱", 12, "8.00", 365),
    ("乐事原味薯片", "70g", "零食", "乐事", "袋", "箱", 22, "7.50", 270),
    ("乐事黄瓜味薯片", "70g", "零食", "乐事", "袋", "箱", 22, "7.50", 270),
    ("奥利奥原味饼干", "97g", "零食", "亿滋", "盒", "箱", 24, "8.90", 300),
    ("好丽友巧克力派", "12枚", "零食", "好丽友", "盒", "箱", 8, "19.90", 300),
    ("旺旺雪饼", "84g", "零食", "旺旺", "袋", "箱", 24, "6.50", 270),
    ("卫龙大面筋", "106g", "零食", "卫龙", "袋", "箱", 40, "5.00", 180),
    ("三只松鼠每日坚果", "25g", "零食", "三只松鼠", "袋", "盒", 30, "4.50", 180),
    ("德芙丝滑牛奶巧克力", "43g", "零食", "德芙", "条", "盒", 12, "8.50", 365),
    ("士力架花生夹心", "51g", "零食", "玛氏", "条", "盒", 24, "5.50", 365),
    ("康师傅红烧牛肉面", "袋装", "方便食品", "康师傅", "袋", "箱", 24, "3.50", 180),
    ("康师傅红烧牛肉面", "桶装", "方便食品", "康师傅", "桶", "箱", 12, "5.00", 180),
    ("统一老坛酸菜牛肉面", "桶装", "方便食品", "统一", "桶", "箱", 12, "5.00", 180),
    ("今麦郎一菜一面", "桶装", "方便食品", "今麦郎", "桶", "箱", 12, "5.50", 180),
    ("白象汤好喝", "袋装", "方便食品", "白象", "袋", "箱", 24, "3.50", 180),
    ("双汇王中王火腿肠", "30g", "方便食品", "双汇", "支", "盒", 10, "1.80", 180),
    ("海天金标生抽", "1.28L", "调味品", "海天", "瓶", "箱", 12, "16.90", 720),
    ("海天上等蚝油", "520g", "调味品", "海天", "瓶", "箱", 12, "9.90", 540),
    ("老干妈风味豆豉", "280g", "调味品", "老干妈", "瓶", "箱", 24, "11.50", 540),
    ("李锦记蒸鱼豉油", "410ml", "调味品", "李锦记", "瓶", "箱", 12, "12.90", 720),
    ("太太乐鸡精", "200g", "调味品", "太太乐", "袋", "箱", 50, "9.90", 540),
    ("金龙鱼大豆油", "5L", "粮油", "金龙鱼", "桶", "箱", 4, "69.90", 540),
    ("福临门花生油", "5L", "粮油", "福临门", "桶", "箱", 4, "119.00", 540),
    ("五常大米", "5kg", "粮油", "十月稻田", "袋", "袋", 1, "49.90", None),
    ("维达抽纸", "3层100抽", "日用品", "维达", "包", "提", 6, "3.50", None),
    ("清风卷纸", "4层10卷", "日用品", "清风", "提", "箱", 6, "29.90", None),
    ("蓝月亮洗衣液", "3kg", "日用品", "蓝月亮", "瓶", "箱", 4, "49.90", None),
    ("立白洗洁精", "1.29kg", "日用品", "立白", "瓶", "箱", 12, "13.90", None),
    ("高露洁牙膏", "180g", "日用品", "高露洁", "支", "盒", 12, "15.90", None),
    ("舒肤佳香皂", "115g", "日用品", "舒肤佳", "块", "盒", 36, "5.50", None),
]

USERS: list[tuple[str, Role, str]] = [
    ("王管理", Role.ADMIN, "admin"),
    ("赵老板", Role.OWNER, "owner"),
    ("张经理", Role.MANAGER, "manager"),
    ("李经理", Role.MANAGER, "manager2"),
    ("陈采购", Role.PURCHASER, "purchaser"),
    ("刘仓管", Role.WAREHOUSE, "warehouse"),
    ("小王", Role.SALES, "sales"),
    ("小周", Role.SALES, "sales2"),
]

CUSTOMERS = [
    ("华联超市", "周店长", "13800000001", "50000"),
    ("联华超市浦东店", "钱经理", "13800000002", "80000"),
    ("好德便利店", "孙老板", "13800000003", "10000"),
    ("全家便利店徐汇店", "李店长", "13800000004", None),
    ("喜士多便利", "吴老板", "13800000005", "20000"),
    ("红旗连锁", "郑经理", "13800000006", None),
]

SUPPLIERS = [
    ("太古可口可乐", "黄经理", "02160000001"),
    ("百事饮料华东", "许经理", "02160000002"),
    ("农夫山泉上海", "冯经理", "02160000003"),
    ("伊利华东分公司", "韩经理", "02160000004"),
    ("上海顺丰食品批发", "曹经理", "02160000005"),
]

_PREFERRED_SUPPLIER = {"可口可乐": "太古可口可乐", "百事": "百事饮料华东", "农夫山泉": "农夫山泉上海", "伊利": "伊利华东分公司"}


def demo_barcode(index: int) -> str:
    body = f"692026{index:06d}"
    return body + str(gs1_check_digit(body))


@dataclass(frozen=True, slots=True)
class DemoSummary:
    products: int
    lots: int
    users: int


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(Product))


async def seed_demo(session: AsyncSession, today: date) -> DemoSummary:
    """Fill an empty database with the demo company (in the caller's transaction)."""
    rng = random.Random(20261122)
    users: dict[str, User] = {}
    for name, role, console_id in USERS:
        users[console_id] = await add_user(session, platform="console", platform_user_id=console_id, name=name, role=role)
    warehouse_user = users["warehouse"]
    main = await save_warehouse(session, None, "MAIN", "主仓")
    store = await save_warehouse(session, None, "STORE", "门店仓")
    for name, contact, phone, limit in CUSTOMERS:
        await save_customer(
            session, None, name=name, contact=contact, phone=phone, credit_limit=None if limit is None else Decimal(limit)
        )
    for name, contact, phone in SUPPLIERS:
        await save_supplier(session, None, name=name, contact=contact, phone=phone)

    lots = 0
    for index, (name, spec, category, brand, unit, case_unit, per_case, price, shelf_life) in enumerate(_CATALOG, 1):
        sale = Decimal(price)
        purchase = (sale * Decimal("0.68")).quantize(Decimal("0.01"))
        case_stock = Decimal(per_case) * rng.choice([2, 3, 4, 5])
        product, _ = await save_product(
            session,
            None,
            ProductInput(
                sku=f"SP{index:04d}",
                name=name,
                spec=spec,
                category=category,
                brand=brand,
                base_unit=unit,
                conversions={case_unit: Decimal(per_case)} if case_unit != unit else {},
                barcodes=[demo_barcode(index)],
                sale_price=sale,
                purchase_price=purchase,
                safety_stock=case_stock,
                max_stock=case_stock * 4,
                shelf_life_days=shelf_life,
                near_expiry_days=3 if shelf_life and shelf_life <= 14 else None,
                preferred_supplier=_PREFERRED_SUPPLIER.get(brand, "上海顺丰食品批发"),
            ),
        )
        # Every seventh product runs low; the rest are comfortably stocked.
        target = case_stock * Decimal("0.5") if index % 7 == 0 else case_stock * rng.choice([2, 3, 4])
        for warehouse, share in ((main, Decimal("0.7")), (store, Decimal("0.3"))):
            quantity = (target * share).to_integral_value()
            if quantity <= 0:
                continue
            batches = [quantity] if not shelf_life else [quantity - quantity // 3, quantity // 3]
            for batch_no, batch_quantity in enumerate(batches):
                if batch_quantity <= 0:
                    continue
                production = None
                if shelf_life:
                    # The older batch of every fifth product is near expiry; of every eleventh, expired.
                    age = shelf_life - rng.randint(5, 40) if index % 5 == 0 and batch_no == 0 else rng.randint(1, shelf_life // 3)
                    if index % 11 == 0 and batch_no == 0:
                        age = shelf_life + 3
                    production = today - timedelta(days=age)
                await opening_stock(
                    session,
                    warehouse_user,
                    product_id=product.id or 0,
                    warehouse_id=warehouse.id or 0,
                    quantity=batch_quantity,
                    lot_no=f"{production:%Y%m%d}" if production else "",
                    production_date=production,
                    unit_cost=purchase,
                )
                lots += 1
    return DemoSummary(products=len(_CATALOG), lots=lots, users=len(USERS))
