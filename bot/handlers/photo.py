"""A photo of a barcode: decode it, find the product, answer with its stock card and next steps.

The download and the decoding run in the event's background task (never in the platform's ack path);
decoding itself runs in a worker thread inside `read_barcodes`. When a read is not certain, the catalog
settles it: every code seen is looked up in one query, and the codes the catalog has win over the rest
(a misread rarely lands on a registered code).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.cards import echo, new_card_id, product_label, stock_card
from bot.model import Button, ButtonStyle, Card, CardAction, ImageMessage, Reply, Table, Text, Tone
from bot.turn import Turn
from core.barcode_reader import ImageError, ScanResult, read_barcodes
from core.catalog import ProductInput, save_product
from core.errors import InvalidInput
from core.gtin import lookup_forms
from core.models import Barcode, Product, Role
from core.quantity import parse_decimal
from core.stock import stock_of

log = logging.getLogger("psibot.photo")

DOWNLOAD_TIMEOUT_SECONDS = 20.0
PHOTO_TIPS = (
    "没有在照片里找到条码。拍照小贴士：条码放在画面中间、占画面一半左右；手机拿稳、对好焦；"
    "光线充足、避开反光；条码尽量平整。也可以直接输入数字，如“查 6901234567890”。"
)


async def photo(turn: Turn, event: ImageMessage) -> None:
    adapter = turn.services.adapters.get(turn.origin.platform)
    if adapter is None:
        turn.say(Text("这个平台暂时不能读取图片，请直接输入条码数字。"))
        return
    try:
        data = await asyncio.wait_for(adapter.download_image(event.media_handle), DOWNLOAD_TIMEOUT_SECONDS)
    except Exception:
        log.warning("image download failed on %s", turn.origin.platform, exc_info=True)
        turn.say(Text("图片没能下载下来，请重新发一次。"))
        return
    try:
        scan = await read_barcodes(data)
    except ImageError as error:
        turn.say(Text(f"这张图片读不了（{error}），请重新拍一张照片发来。"))
        return
    turn.say(await turn.lookup(lambda session: _answer(session, turn, scan)))


async def _answer(session: AsyncSession, turn: Turn, scan: ScanResult) -> Reply:
    if not scan.codes:
        return Text(PHOTO_TIPS)
    products = await products_by_code(session, [read.normalized for read in scan.codes])
    found: list[tuple[str, Product | None]] = [(read.normalized, products.get(read.normalized)) for read in scan.codes]
    known: list[tuple[str, Product | None]] = [(text, product) for text, product in found if product is not None]
    if scan.ambiguous:
        if known:
            found = known  # the catalog knowing a code is confirmation enough; the others were misreads
        elif len(found) > 1:
            seen = "、".join(text for text, _ in found[:3])
            return Text(f"照片里的条码看不太清（像 {seen}）。请再拍一张，或直接输入“查 条码数字”。")
    if len(found) == 1:
        text, product = found[0]
        if product is not None:
            stock = await stock_of(session, product.id or 0, clock=turn.clock())
            return await stock_card(session, turn.user, stock, costs=turn.shows_costs())
        if scan.ambiguous:
            return Text(f"照片里的条码看着像 {text}，但不太清楚。请再拍一张，或直接输入“查 {text}”。")
        return _unknown_code(turn, text)
    return Card(
        card_id=new_card_id("codes"),
        title=f"照片里有 {len(found)} 个条码",
        tone=Tone.INFO,
        tables=(Table(("条码", "商品"), tuple((code, product_label(p) if p else "未登记") for code, p in found)),),
        buttons=tuple(
            Button(product_label(p), "stock.pick", {"product_id": str(p.id)}) for _, p in known[:8] if p is not None
        ),
        note="点商品看库存" if known else "这些条码都不在商品库中",
    )


async def products_by_code(session: AsyncSession, codes: list[str]) -> dict[str, Product]:
    """The products of these codes (a UPC-A and its EAN-13 form find the same one), in one query."""
    wanted: dict[str, str] = {}  # stored form → the code as read
    for code in codes:
        for form in lookup_forms(code):
            wanted.setdefault(form, code)
    if not wanted:
        return {}
    rows = await session.execute(
        select(col(Barcode.code), Product)
        .join(Product, col(Product.id) == col(Barcode.product_id))
        .where(col(Barcode.code).in_(list(wanted)))
    )
    found: dict[str, Product] = {}
    for stored, product in rows.all():
        found.setdefault(wanted[stored], product)
    return found


def _unknown_code(turn: Turn, code: str) -> Reply:
    if turn.user.role != Role.ADMIN:
        return Text(f"条码 {code} 不在商品库中。需要新建商品请联系管理员。")
    return Card(
        card_id=new_card_id("newcode"),
        title=f"条码 {code} 不在商品库中",
        tone=Tone.WARNING,
        note="要用这个条码新建商品吗？",
        buttons=(Button("新建商品", "product.create", {"code": code}, ButtonStyle.PRIMARY),),
    )


async def start_create(turn: Turn, action: CardAction) -> None:
    code = action.value.get("code", "")
    await turn.services.conversations.set(turn.origin, {"flow": "product.create", "code": code})
    turn.say(Text(_form_question(code)))


def _form_question(code: str) -> str:
    return f"请回复新商品的 名称 单位 售价，例如：可口可乐330ml 罐 3.5（条码 {code}，发“取消”放弃）"


def _price(word: str) -> Decimal | None:
    """A price as typed (3.5, ¥3.5, 3.5元), or None when the word is not one."""
    try:
        return parse_decimal(word.removesuffix("元"), "售价")
    except InvalidInput:
        return None


def _read_form(text: str) -> tuple[str, str, Decimal]:
    """`名称 单位 售价`, the name possibly with spaces; what is missing or wrong is refused by name."""
    words = text.split()
    if len(words) < 3:
        missing = "单位和售价" if len(words) < 2 else "单位" if _price(words[-1]) is not None else "售价"
        raise InvalidInput(f"少了{missing}")
    *name, unit, price_text = words
    if _price(unit) is not None:
        raise InvalidInput(f"单位“{echo(unit)}”是数字，请写 支、罐、箱 这样的单位")
    price = _price(price_text)
    if price is None:
        raise InvalidInput(f"售价“{echo(price_text)}”不是数字")
    return " ".join(name), unit, price


async def continue_create(turn: Turn, state: dict[str, str], text: str) -> bool:
    """`名称 单位 售价` for the code in hand; an answer that cannot make the product is refused by name and
    asked again, as the count does, so a slip does not lose the code photographed."""
    code = state["code"]
    try:
        name, unit, price = _read_form(text)
        new = ProductInput(sku=code, name=name, base_unit=unit, barcodes=[code], sale_price=price.quantize(Decimal("0.01")))
        product, _ = await turn.transact(lambda session: save_product(session, turn.user, new))
    except InvalidInput as error:  # unreadable, or refused by the catalog (a negative price)
        await turn.services.conversations.set(turn.origin, state)
        turn.say(Text(f"{error.message}。{_form_question(code)}"))
        return True
    await turn.services.conversations.clear(turn.origin)
    turn.say(Text(f"已新建商品 {product.name}（编码 {product.sku}，条码 {code}，售价 ¥{price:.2f}/{unit}）。"))
    return True
