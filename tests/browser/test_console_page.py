"""The console page end to end in headless Chromium: sales, purchase, approval pushed live, a photo.

Skips when /usr/bin/chromium is absent, except under CI=true. Never downloads a browser: it drives
Debian's chromium through the playwright package.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bot.app import build_app
from bot.kv import MemoryStore
from core.config import Settings
from tests.conftest import drop_database, make_database
from tests.scenario.barcode_image import ean13_png
from tests.scenario.conftest import seed

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


@pytest.fixture
async def console_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if not HAVE_CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs /usr/bin/chromium for the browser test")
        pytest.skip("no /usr/bin/chromium")
    db, schema = await make_database("sqlite", tmp_path_factory)
    await seed(db)
    settings = Settings(db.url, None, ZoneInfo("Asia/Shanghai"), None, {})
    runner = web.AppRunner(build_app(settings, db, MemoryStore(), console=True))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/console"
    finally:
        await runner.cleanup()
        await drop_database(db, schema)


async def test_a_day_at_the_console(console_url: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            sales = await (await browser.new_context()).new_page()
            manager = await (await browser.new_context()).new_page()
            for page, user in ((sales, "wang"), (manager, "zhang")):
                await page.goto(console_url)
                await expect(page.locator("#who option")).to_have_count(7, timeout=TIMEOUT_MS)
                await page.select_option("#who", user)

            async def say(page: object, text: str) -> None:
                await page.fill("#text", text)  # type: ignore[attr-defined]
                await page.press("#text", "Enter")  # type: ignore[attr-defined]

            # An empty conversation starts with a welcome: the help lines for the person's role.
            welcome = sales.locator("#welcome")
            await expect(welcome).to_contain_text("您好，小王（销售）", timeout=TIMEOUT_MS)
            await expect(welcome.locator("button")).to_have_count(5)
            await welcome.locator("button", has_text="今日销售").click()
            await expect(sales.locator("#text")).to_have_value("今日销售")
            await expect(manager.locator("#welcome")).to_contain_text("待审批")
            await expect(sales.locator("label.photo")).to_have_text("照片")  # an SVG icon, no emoji font needed

            # A salesperson checks stock, then places an order and confirms it.
            await say(sales, "库存 雪碧")
            await expect(welcome).to_have_count(0, timeout=TIMEOUT_MS)
            stock = sales.locator(".card", has_text="库存 · 雪碧 500ml")
            await expect(stock).to_contain_text("主仓", timeout=TIMEOUT_MS)
            await say(sales, "下单 华联 雪碧 2箱")
            draft = sales.locator(".card", has_text="销售单草稿 · 华联超市")
            await expect(draft.locator("button", has_text="确认")).to_be_visible(timeout=TIMEOUT_MS)
            await draft.locator("button", has_text="确认").click()
            await expect(sales.locator(".card .status", has_text="已确认 SO-")).to_be_visible(timeout=TIMEOUT_MS)
            await expect(sales.locator(".msg", has_text="已下单 SO-")).to_be_visible(timeout=TIMEOUT_MS)

            # The purchaser requests a purchase; the manager's page receives the approval card by itself.
            await sales.select_option("#who", "chen")
            await say(sales, "采购 雪碧 10箱 供应商 太古")
            await expect(sales.locator(".msg", has_text="已提交采购单 PO-")).to_be_visible(timeout=TIMEOUT_MS)
            approval = manager.locator(".card", has_text="采购审批 · PO-")
            await expect(approval).to_be_visible(timeout=TIMEOUT_MS)
            await approval.locator("button", has_text="批准").click()
            await expect(approval.locator(".status")).to_contain_text("已批准 · 张经理", timeout=TIMEOUT_MS)
            await expect(sales.locator(".msg", has_text="采购单已批准")).to_be_visible(timeout=TIMEOUT_MS)

            # Warehouse sends a barcode photo and gets the product with its actions.
            await sales.select_option("#who", "li")
            photo = tmp_path / "cola.png"
            photo.write_bytes(ean13_png("6901234567892"))
            await sales.set_input_files("#photo", str(photo))
            product = sales.locator(".card", has_text="库存 · 可口可乐 330ml")
            await expect(product.locator("button", has_text="盘点")).to_be_visible(timeout=TIMEOUT_MS)
        finally:
            await browser.close()
