"""Who may use the console: on in demo, off in serve, and behind PSIBOT_CONSOLE_TOKEN when one is set."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.kv import MemoryStore
from core.config import Settings
from core.db import Database
from tests.scenario.conftest import seed

MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def client_for(db: Database, settings: Settings) -> AsyncIterator[MakeClient]:
    await seed(db)
    clients: list[TestClient] = []

    async def make(*, console: bool, token: str | None) -> TestClient:
        app = build_app(dataclasses.replace(settings, console_token=token), db, MemoryStore(), console=console)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_serve_without_a_token_has_no_console(client_for: MakeClient) -> None:
    client = await client_for(console=False, token=None)
    assert (await client.get("/console")).status == 404
    assert (await client.post("/console/api/messages", json={"user": "wang", "text": "帮助"})).status == 404
    assert (await client.get("/healthz")).status == 200


async def test_a_token_is_required_by_bearer_header_or_cookie(client_for: MakeClient) -> None:
    client = await client_for(console=False, token="s3cret")
    assert (await client.get("/console/api/users")).status == 401
    wrong = await client.get("/console/api/users", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    right = await client.get("/console/api/users", headers={"Authorization": "Bearer s3cret"})
    assert right.status == 200 and len((await right.json())["users"]) == 7
    login = await client.get("/console?token=s3cret", allow_redirects=False)
    assert login.status == 302 and "psibot_console" in login.cookies
    assert (await client.get("/console/api/users")).status == 200  # the cookie now carries it
    assert (await client.get("/healthz")).status == 200  # health never needs the token


async def test_demo_console_lists_people_with_roles(client_for: MakeClient) -> None:
    client = await client_for(console=True, token=None)
    users = (await (await client.get("/console/api/users")).json())["users"]
    wang = next(user for user in users if user["id"] == "wang")
    assert {k: wang[k] for k in ("id", "name", "role", "role_name")} == {
        "id": "wang", "name": "小王", "role": "sales", "role_name": "销售"
    }
    assert {"label": "查库存", "text": "库存 可乐 / 查 6901234567890"} in wang["examples"]  # the page's welcome
    page = await client.get("/console")
    assert page.status == 200 and "psibot 控制台" in await page.text()
    assert (await client.get("/console/static/app.js")).status == 200
    assert (await client.get("/console/static/secret.py")).status == 404
    assert (await client.post("/console/api/messages", json={"user": "wang"})).status == 400


async def test_health_is_503_when_the_database_is_down(settings: Settings) -> None:
    from core.config import database_url

    unreachable = Database(database_url("postgresql://postgres@127.0.0.1:1/none"))
    async with TestClient(TestServer(build_app(settings, unreachable, MemoryStore(), console=False))) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        assert (await response.json())["database"] == "error"
