"""Console throughput and acknowledgement latency, against a bare aiohttp handler as the ceiling.

100 simulated people each ask `库存 可乐` through POST /console/api/messages, wait for the bot's card
(GET /console/api/messages long-poll), and ask again, for a fixed time; then the same people post as
fast as they are acknowledged, without waiting for answers, and the backlog is drained. Reported:
messages per second (answered; acknowledged), the POST's acknowledgement latency (median, p99) and the
server's CPU time per answered message (all its threads; the load is elsewhere). The ceiling
is a bare aiohttp handler answering 202 to the same POST, measured in the same run; a second reference,
the same POST and long-poll GET answered at once by bare handlers, shows what the answered protocol's two
requests cost with no work behind them. The load comes from a child process, so each server has its
event loop to itself.

    python -m bench.console [--users 100] [--seconds 10] [--database sqlite:///…|postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlmodel import SQLModel

import bot.outbox  # noqa: F401 - registers the outbox table
import core.documents  # noqa: F401 - registers the document tables
from bot.app import ENGINE_KEY, build_app
from bot.kv import open_store
from core.catalog import ProductInput, save_product, save_warehouse
from core.config import Settings, database_url
from core.db import Database
from core.ledger import opening_stock
from core.models import Identity, Role, User

QUESTION = "库存 可乐"


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    handled: int
    seconds: float
    ack_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.handled / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.ack_ms)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name}: {self.per_second:,.0f} msg/s ({self.handled} in {self.seconds:.1f}s), ack median "
            f"{statistics.median(self.ack_ms):.1f} ms, p99 {self.percentile(0.99):.1f} ms"
        )


async def seed(db: Database, users: int) -> None:
    async with db.write_engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    async with db.session() as session:
        keeper = User(name="仓管", role=Role.WAREHOUSE)
        session.add(keeper)
        main = await save_warehouse(session, None, "MAIN", "主仓")
        await session.flush()
        product, _ = await save_product(
            session, None,
            ProductInput(sku="P001", name="可口可乐 330ml", base_unit="罐", conversions={"箱": Decimal(24)},
                         barcodes=["6901234567892"], sale_price=Decimal("3.50")),
        )
        await opening_stock(session, keeper, product_id=product.id or 0, warehouse_id=main.id or 0, quantity=Decimal(500))
        for n in range(users):
            person = User(name=f"销售{n}", role=Role.SALES)
            session.add(person)
            await session.flush()
            session.add(Identity(platform="console", platform_user_id=f"u{n}", user_id=person.id or 0))


async def drive_elsewhere(base: str, users: int, seconds: float, *, wait_for_reply: bool, name: str) -> Result:
    """Run the load in a child process, so the server under test has its event loop to itself."""
    command = [sys.executable, "-m", "bench.console", "--client", base, "--users", str(users), "--seconds", str(seconds)]
    if wait_for_reply:
        command.append("--wait-for-reply")
    child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"load generator failed with {child.returncode}")
    measured = json.loads(output)
    return Result(name, measured["handled"], measured["seconds"], measured["ack_ms"])


async def drive(base: str, users: int, seconds: float, *, wait_for_reply: bool, name: str) -> Result:
    acks: list[float] = []
    handled = 0
    stop_at = time.perf_counter() + seconds

    async def person(n: int, http: aiohttp.ClientSession) -> None:
        nonlocal handled
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            async with http.post(f"{base}/console/api/messages", json={"user": f"u{n}", "text": QUESTION}) as response:
                body = await response.json()
                assert response.status == 202, response.status
            acks.append((time.perf_counter() - started) * 1000)
            seen = body["seq"]
            while wait_for_reply:
                url = f"{base}/console/api/messages?user=u{n}&after={seen}&wait=10"
                async with http.get(url) as response:
                    records = (await response.json())["messages"]
                if records:
                    seen = max(r["updated"] for r in records)
                if any(r["direction"] == "out" for r in records):
                    break
            handled += 1

    connector = aiohttp.TCPConnector(limit=users * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(person(n, http) for n in range(users)))
        elapsed = time.perf_counter() - started
    return Result(name, handled, elapsed, acks)


async def _ddl(url: URL, statement: str) -> None:
    admin = Database(url)
    async with admin.write_engine.begin() as connection:
        await connection.execute(text(statement))
    await admin.close()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def bare_handler(_request: web.Request) -> web.Response:
    return web.json_response({"event_id": "x", "seq": 0}, status=202)


def bare_protocol() -> web.Application:
    """The answered protocol with no work behind it: the POST is acknowledged and the long-poll GET that
    follows finds an answer at once. What the two requests alone cost, as a second reference."""
    answer = {"direction": "out", "kind": "card", "text": "可口可乐 330ml"}

    async def post(_request: web.Request) -> web.Response:
        return web.json_response({"event_id": "x", "seq": 1}, status=202)

    async def get(request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0"))
        return web.json_response({"messages": [{**answer, "seq": after + 1, "updated": after + 1}], "last": after + 1})

    app = web.Application()
    app.router.add_post("/console/api/messages", post)
    app.router.add_get("/console/api/messages", get)
    return app


async def main(users: int, seconds: float, database: str | None, redis: str | None) -> None:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url(database or f"sqlite:///{Path(scratch) / 'bench.db'}")
        schema = None if url.get_backend_name() == "sqlite" else "bench_" + uuid.uuid4().hex[:8]
        if schema:
            await _ddl(url, f'CREATE SCHEMA "{schema}"')
        db = Database(url, pg_schema=schema)
        await seed(db, users)
        store = open_store(redis, prefix="psibot-bench:")
        settings = Settings(url, redis, ZoneInfo("Asia/Shanghai"), None, {})

        bare = web.Application()
        bare.router.add_post("/console/api/messages", bare_handler)
        runner, base = await serve(bare)
        ceiling = await drive_elsewhere(base, users, seconds, wait_for_reply=False, name="bare aiohttp handler (ceiling)")
        await runner.cleanup()

        runner, base = await serve(bare_protocol())
        cpu_before = time.process_time()
        protocol = await drive_elsewhere(base, users, seconds, wait_for_reply=True, name="bare POST + GET, no work")
        protocol_cpu = (time.process_time() - cpu_before) / max(protocol.handled, 1) * 1000
        await runner.cleanup()

        app = build_app(settings, db, store, console=True)
        runner, base = await serve(app)
        cpu_before = time.process_time()
        answered = await drive_elsewhere(base, users, seconds, wait_for_reply=True, name="console, answered one by one")
        cpu_per_answer = (time.process_time() - cpu_before) / max(answered.handled, 1) * 1000
        burst = await drive_elsewhere(base, users, seconds, wait_for_reply=False, name="console, acknowledged")
        draining = time.perf_counter()
        await app[ENGINE_KEY].drain()
        drain_seconds = time.perf_counter() - draining
        await runner.cleanup()
        await store.close()
        await db.close()
        if schema:
            await _ddl(url, f'DROP SCHEMA "{schema}" CASCADE')

    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(ceiling.line())
    print(protocol.line())
    print(f"  server CPU {protocol_cpu:.2f} ms per answer (the two requests alone)")
    print(answered.line())
    print(f"  server CPU {cpu_per_answer:.1f} ms per answered message (HTTP, engine, database driver, outbox)")
    print(burst.line())
    print(
        f"  then {drain_seconds:.1f}s to finish the backlog: {burst.handled / (burst.seconds + drain_seconds):,.0f} msg/s answered"
    )
    print(
        f"bare POST + GET / ceiling: {protocol.per_second / ceiling.per_second:.0%}; "
        f"answered / ceiling: {answered.per_second / ceiling.per_second:.0%}, acknowledged / ceiling: "
        f"{burst.per_second / ceiling.per_second:.0%} (goal ≥ 25%); ack p99 {answered.percentile(0.99):.1f} ms "
        f"answered one by one, {burst.percentile(0.99):.1f} ms in the burst (goal < 50 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database", help="default: a fresh SQLite file")
    parser.add_argument("--redis", help="redis://… to dedupe and lock in Redis; default: in memory")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # the load generator's own process
    parser.add_argument("--wait-for-reply", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.client:
        # The load generator's own garbage collections (gen2 passes over the replies it has read, 100-130 ms)
        # stalled its loop and were counted as the server's acknowledgement latency: it runs without them,
        # its few seconds of garbage held in memory. The server under test keeps its collector.
        gc.disable()
        result = asyncio.run(
            drive(arguments.client, arguments.users, arguments.seconds, wait_for_reply=arguments.wait_for_reply, name="")
        )
        print(json.dumps({"handled": result.handled, "seconds": result.seconds, "ack_ms": result.ack_ms}))
    else:
        asyncio.run(main(arguments.users, arguments.seconds, arguments.database, arguments.redis))
