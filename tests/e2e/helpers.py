"""What the end-to-end tests of every platform share: the shop, the running bot, a barcode photo, waiting.

Each platform's test drives psibot exactly as the platform would (signed callbacks over real HTTP to
the app `build_app` makes, with the adapter `bot.platforms` builds from the environment) and reads
what psibot sent from that platform's fake open API.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestServer
from PIL import Image, ImageDraw
from sqlalchemy import func
from sqlmodel import col, select

import bot.outbox  # noqa: F401 - registers the outbox table
from bot.app import ENGINE_KEY, build_app
from bot.kv import KeyValueStore, MemoryStore
from bot.outbox import OutboxMessage, OutboxStatus
from bot.platforms import configured_adapters
from core.catalog import save_supplier
from core.config import Settings, database_url
from core.db import Database
from core.ledger import opening_stock
from core.models import Product, Role
from core.users import add_user
from tests.factories import World, make_product, make_world
from tests.scenario.conftest import L1_EXPIRY

COLA_BARCODE = "6901234567892"
SPRITE_BARCODE = "6902538006100"
# Who does what in every end-to-end test; each platform binds its own ids to these people.
PEOPLE: Mapping[str, tuple[str, Role]] = {
    "sales": ("小王", Role.SALES),
    "purchaser": ("小陈", Role.PURCHASER),
    "manager": ("张经理", Role.MANAGER),
}


@dataclass(frozen=True, slots=True)
class Shop:
    world: World
    cola: Product
    sprite: Product


async def seed_shop(db: Database, platform: str, ids: Mapping[str, str]) -> Shop:
    """The people of PEOPLE bound to `ids` on `platform`; cola 100 罐 in 主仓 and 20 in 门店仓, sprite 60 瓶."""
    async with db.session() as session:
        world = await make_world(session)
        for person, platform_user_id in ids.items():
            name, role = PEOPLE[person]
            await add_user(
                session, platform=platform, platform_user_id=platform_user_id, name=name, role=role
            )
        cola = await make_product(session, "P001", "可口可乐 330ml", barcode=COLA_BARCODE)
        sprite = await make_product(
            session, "P002", "雪碧 500ml", base_unit="瓶", case=12, barcode=SPRITE_BARCODE, sale_price="4.00"
        )
        for product, warehouse, quantity in (
            (cola, world.main, 100),
            (cola, world.store, 20),
            (sprite, world.main, 60),
        ):
            await opening_stock(
                session,
                world.warehouse_user,
                product_id=product.id or 0,
                warehouse_id=warehouse.id or 0,
                quantity=Decimal(quantity),
                lot_no="L1",
                expiry_date=L1_EXPIRY,  # never near expiry, whatever the date
            )
        await save_supplier(session, None, name="太古可口可乐")
    return Shop(world, cola, sprite)


@dataclass
class RunningBot:
    """psibot as deployed: the whole app on a loopback port, the platform talking to it over HTTP."""

    server: TestServer
    db: Database

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def settle(self, within: float = 10.0) -> None:
        """Wait until every event in hand is handled and every queued reply has left the outbox."""
        await self.server.app[ENGINE_KEY].drain()
        await eventually(self._outbox_empty, within, "replies still waiting in the outbox")

    async def _outbox_empty(self) -> bool:
        return await self.outbox_count(OutboxStatus.PENDING) == 0

    async def outbox_count(self, status: OutboxStatus | None = None) -> int:
        statement = select(func.count()).select_from(OutboxMessage)
        if status is not None:
            statement = statement.where(col(OutboxMessage.status) == status)
        return int(await self.db.read(lambda session: session.scalar(statement)) or 0)


@asynccontextmanager
async def running_bot(
    db: Database, env: Mapping[str, str], store: KeyValueStore | None = None
) -> AsyncIterator[RunningBot]:
    """The app `psibot serve` builds, with the adapters the environment turns on, and no console."""
    store = store or MemoryStore()
    settings = Settings(
        database_url=database_url("sqlite:///unused.db"),
        redis_url=None,
        timezone=ZoneInfo("Asia/Shanghai"),
        console_token=None,
        env=env,
    )
    adapters = configured_adapters(env, store)
    assert adapters, "the environment turns no platform on"
    server = TestServer(build_app(settings, db, store, console=False, adapters=adapters), host="127.0.0.1")
    await server.start_server()
    try:
        yield RunningBot(server, db)
    finally:
        await server.close()


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float, what: str
) -> None:
    """Poll `check` until it is true; fail naming `what` after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within}s: {what}")
        await asyncio.sleep(0.02)


_EAN_L = (
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
)
_EAN_PARITY = (
    "LLLLLL",
    "LLGLGG",
    "LLGGLG",
    "LLGGGL",
    "LGLLGG",
    "LGGLLG",
    "LGGGLL",
    "LGLGLG",
    "LGLGGL",
    "LGGLGL",
)


def ean13_modules(code: str) -> str:
    """The 95 bars and spaces of an EAN-13 symbol, 1 for a bar (GS1 General Specifications 5.2.1)."""
    assert len(code) == 13 and code.isdigit()
    right = ["".join("1" if bit == "0" else "0" for bit in pattern) for pattern in _EAN_L]
    modules = "101"
    for digit, parity in zip(code[1:7], _EAN_PARITY[int(code[0])], strict=True):
        modules += _EAN_L[int(digit)] if parity == "L" else right[int(digit)][::-1]
    modules += "01010" + "".join(right[int(digit)] for digit in code[7:]) + "101"
    return modules


def ean13_photo(code: str, *, module_px: int = 3, height_px: int = 160) -> bytes:
    """A clean PNG of an EAN-13 barcode, bars drawn module by module, with quiet zones around it."""
    modules = ean13_modules(code)
    quiet = 12 * module_px
    image = Image.new("L", (len(modules) * module_px + 2 * quiet, height_px + 2 * quiet), 255)
    draw = ImageDraw.Draw(image)
    for index, bit in enumerate(modules):
        if bit == "1":
            left = quiet + index * module_px
            draw.rectangle((left, quiet, left + module_px - 1, quiet + height_px), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
