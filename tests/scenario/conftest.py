"""A shop with people bound to console identities, and the whole bot served over HTTP.

Scenario tests talk to psibot only through the console's HTTP interface (docs/console.md), as a
person in a browser or a script would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

import bot.outbox  # noqa: F401 - registers the outbox table
from bot.app import build_app
from bot.kv import MemoryStore
from core.catalog import save_customer, save_supplier
from core.config import Settings
from core.db import Database
from core.ledger import opening_stock
from core.models import Identity, Product, User, Warehouse
from tests.factories import World, make_product, make_world

# The bot dates with the real clock, so the seeded lots are dated from today, not from a fixed year:
# fixed 2027 dates would turn near expiry, then expired, as the calendar moves.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
L1_EXPIRY = TODAY + timedelta(days=120)  # beyond every near-expiry window (60 days at most)
L2_EXPIRY = TODAY + timedelta(days=210)


def days_from_today(days: int) -> date:
    return TODAY + timedelta(days=days)


async def add_cola_lot(
    db: Database, world: World, quantity: int, lot_no: str, expiry: date, warehouse: Warehouse | None = None
) -> None:
    """More 可口可乐 330ml in 主仓 (or `warehouse`), in a lot of its own; an expiry in the past makes expired
    stock (as the demo seeds)."""
    async with db.session() as session:
        cola = await session.scalar(select(Product).where(col(Product.sku) == "P001"))
        assert cola is not None
        await opening_stock(
            session, world.warehouse_user, product_id=cola.id or 0, warehouse_id=(warehouse or world.main).id or 0,
            quantity=Decimal(quantity), lot_no=lot_no, expiry_date=expiry,
        )


CONSOLE_IDS = {
    "admin": "admin",
    "sales": "wang",
    "warehouse_user": "li",
    "purchaser": "chen",
    "manager": "zhang",
    "manager2": "zhang2",
    "owner": "zhao",
}


async def seed(db: Database) -> World:
    """Two warehouses, cola (罐, 1箱=24) with two lots, sprite (瓶, 1箱=12), 华联超市, 太古."""
    async with db.session() as session:
        world = await make_world(session)
        for attribute, console_id in CONSOLE_IDS.items():
            user: User = getattr(world, attribute)
            session.add(Identity(platform="console", platform_user_id=console_id, user_id=user.id or 0))
        cola = await make_product(session, "P001", "可口可乐 330ml", shelf_life_days=365, safety_stock="24")
        sprite = await make_product(
            session, "P002", "雪碧 500ml", base_unit="瓶", case=12, barcode="6902538006100", sale_price="4.00",
            purchase_price="2.50",
        )
        await make_product(session, "P003", "可口可乐 1.25L", base_unit="瓶", case=12, barcode=None, sale_price="6.50")
        await opening_stock(
            session, world.warehouse_user, product_id=cola.id or 0, warehouse_id=world.main.id or 0,
            quantity=Decimal(100), lot_no="L1", expiry_date=L1_EXPIRY,
        )
        await opening_stock(
            session, world.warehouse_user, product_id=cola.id or 0, warehouse_id=world.store.id or 0,
            quantity=Decimal(20), lot_no="L2", expiry_date=L2_EXPIRY,
        )
        await opening_stock(
            session, world.warehouse_user, product_id=sprite.id or 0, warehouse_id=world.main.id or 0,
            quantity=Decimal(60),
        )
        await save_customer(session, None, name="华联超市")
        await save_supplier(session, None, name="太古可口可乐")
    return world


@dataclass
class Console:
    """A person at the console: post, press, upload, and read what arrives."""

    client: TestClient
    world: World
    seen: dict[str, int] = field(default_factory=dict)

    async def say(self, user: str, text: str, **extra: Any) -> list[dict[str, Any]]:
        response = await self.client.post("/console/api/messages", json={"user": user, "text": text, **extra})
        assert response.status == 202, await response.text()
        return await self.replies(user)

    async def press(self, user: str, card: dict[str, Any], label: str, **extra: Any) -> list[dict[str, Any]]:
        button = next(b for b in card["buttons"] if b["label"] == label)
        body = {"user": user, "card_id": card["card_id"], "action": button["action"], "value": button["value"], **extra}
        response = await self.client.post("/console/api/actions", json=body)
        assert response.status == 202, await response.text()
        return await self.replies(user)

    async def upload(self, user: str, data: bytes) -> list[dict[str, Any]]:
        response = await self.client.post(f"/console/api/images?user={user}", data=data)
        assert response.status == 202, await response.text()
        return await self.replies(user)

    async def inbox(self, user: str, wait: int = 0) -> list[dict[str, Any]]:
        """Everything the bot sent this person that is new since last read (updates included)."""
        after = self.seen.get(user, 0)
        response = await self.client.get(f"/console/api/messages?user={user}&after={after}&wait={wait}")
        body = await response.json()
        records = body["messages"]
        if records:
            self.seen[user] = max(r["updated"] for r in records)
        return [r for r in records if r["direction"] == "out"]

    async def in_group(self, user: str, text: str, chat: str = "g1") -> list[dict[str, Any]]:
        """Say `text` in a group chat, mentioning the bot; the bot's answers there."""
        body = {"user": user, "text": text, "chat": chat, "mentioned": True}
        response = await self.client.post("/console/api/messages", json=body)
        assert response.status == 202, await response.text()
        return await self.group_inbox(chat, wait=5)

    async def group_inbox(self, chat: str = "g1", wait: int = 1) -> list[dict[str, Any]]:
        """What the bot said in the group since last read: wait for the first, then until it goes quiet."""
        key = f"chat:{chat}"
        replies: list[dict[str, Any]] = []
        while True:
            response = await self.client.get(
                "/console/api/messages", params={"chat": chat, "after": self.seen.get(key, 0), "wait": wait}
            )
            records = (await response.json())["messages"]
            if not records:
                return replies
            self.seen[key] = max(r["updated"] for r in records)
            replies += [r["reply"] for r in records if r["direction"] == "out"]
            await asyncio.sleep(0.3)
            wait = 0

    async def replies(self, user: str, quiet: float = 0.3) -> list[dict[str, Any]]:
        """The bot's replies: wait for the first, then until nothing more comes for `quiet` seconds."""
        records: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not records and asyncio.get_running_loop().time() < deadline:
            records += await self.inbox(user, wait=5)
        await asyncio.sleep(quiet)
        records += await self.inbox(user)
        return [r["reply"] for r in records]


@pytest.fixture
def settings() -> Settings:
    from core.config import database_url

    return Settings(
        database_url=database_url("sqlite:///unused.db"), redis_url=None, timezone=ZoneInfo("Asia/Shanghai"),
        console_token=None, env={},
    )


@pytest.fixture
async def console(db: Database, settings: Settings) -> AsyncIterator[Console]:
    world = await seed(db)
    app = build_app(settings, db, MemoryStore(), console=True)
    async with TestClient(TestServer(app)) as client:
        yield Console(client, world)


def texts(replies: list[dict[str, Any]]) -> str:
    """All replies as one plain text, for assertions that do not care about the layout."""
    parts = []
    for reply in replies:
        if reply["type"] == "card":
            parts.append(reply["title"])
            parts += [f"{label}: {value}" for label, value in reply["fields"]]
            parts += [" | ".join(row) for table in reply["tables"] for row in table["rows"]]
            parts += [reply["note"], reply["status"], *(b["label"] for b in reply["buttons"])]
        else:
            parts.append(reply.get("text") or reply.get("markdown", ""))
    return "\n".join(parts)


def card(replies: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in replies if r["type"] == "card")
