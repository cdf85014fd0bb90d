"""The `psibot` command: demo, serve, db upgrade, import, users, check-ledger, barcode, check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import ConfigError, Settings
from core.db import Database
from core.errors import DomainError
from core.models import Role

log = logging.getLogger("psibot")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"配置错误 / configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    from bot.schema import upgrade

    await upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        return await work(database)
    finally:
        await database.close()


def _progress(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)

    return show


# ---------------------------------------------------------------- server


async def _serve(settings: Settings, host: str, port: int, *, demo: bool) -> None:
    from aiohttp import web

    from bot.app import build_app
    from bot.kv import open_store
    from bot.platforms import configured_adapters
    from bot.schema import upgrade
    from core.demo import is_empty, seed_demo
    from scheduler import install, load_config, robot_adapter

    await upgrade(settings.database_url)
    database = Database(settings.database_url)
    if demo:

        async def seed(session: AsyncSession) -> str:
            if not await is_empty(session):
                return "已有数据，跳过演示数据 / database not empty, demo data not added"
            summary = await seed_demo(session, datetime.now(settings.timezone).date())
            return f"演示数据已就绪: {summary.products} 个商品, {summary.lots} 个批次, {summary.users} 个用户"

        print(await database.transact(seed))
    store = open_store(settings.redis_url)
    alert_config = load_config(settings)
    adapters = configured_adapters(settings.env, store)
    app = build_app(
        settings, database, store, console=demo, adapters=[*adapters, robot_adapter(alert_config)], alerts=alert_config
    )
    install(app, alert_config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    where = f"http://{host}:{port}"
    print(f"psibot {'demo' if demo else 'serve'} on {where}  (health: {where}/healthz)")
    if demo or settings.console_token:
        print(f"网页聊天控制台 / web console: {where}/console")
    for adapter in adapters:
        print(f"platform on: {adapter.platform}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await database.close()


# ---------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace) -> int:
    asyncio.run(_serve(_settings(), args.host, args.port, demo=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    asyncio.run(_serve(_settings(), args.host, args.port, demo=False))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.schema import upgrade

    settings = _settings()
    asyncio.run(upgrade(settings.database_url, args.revision))
    print(f"数据库已升级到最新 / database upgraded: {settings.database_url.render_as_string(hide_password=True)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.importer import import_partners, import_products, import_stock, read_table
    from core.users import get_user

    settings = _settings()
    path = Path(args.file)

    async def work(database: Database) -> int:
        rows = read_table(path)
        progress = _progress(f"导入 {path.name}")

        async def run(session: AsyncSession) -> Any:
            actor = await get_user(session, args.as_user) if args.as_user else None
            if args.kind == "products":
                return await import_products(session, actor, rows, progress)
            if args.kind == "stock":
                if actor is None:
                    actor = await _system_actor(session)
                return await import_stock(session, actor, rows, progress)
            return await import_partners(session, actor, args.kind, rows, progress)

        summary = await database.transact(run)
        print(
            f"导入完成 / imported: {summary.rows} 行, 新增 {summary.created}, 更新 {summary.updated}, "
            f"未变 {summary.unchanged}" + (f", 库存变动 {summary.movements}" if summary.movements else "")
        )
        return 0

    return _run_domain(lambda: _with_database(settings, work))


async def _system_actor(session: AsyncSession) -> Any:
    """Stock imported from the command line is booked as the first admin (or a dedicated system user)."""
    from sqlmodel import select

    from core.models import User

    admin = await session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id))  # type: ignore[arg-type]
    if admin is None:
        admin = User(name="系统导入", role=Role.ADMIN)
        session.add(admin)
        await session.flush()
    return admin


def cmd_users(args: argparse.Namespace) -> int:
    from core.users import ROLE_NAMES_ZH, add_user, list_users, parse_role

    settings = _settings()

    async def work(database: Database) -> int:
        if args.action == "add":
            role = parse_role(args.role)

            async def add(session: AsyncSession) -> Any:
                return await add_user(
                    session, platform=args.platform, platform_user_id=args.id, name=args.name, role=role
                )

            user = await database.transact(add)
            print(f"已添加 {user.name}（{ROLE_NAMES_ZH[user.role]}）: {args.platform} {args.id}")
            return 0
        for user, identities in await database.read(list_users):
            ids = ", ".join(f"{i.platform}:{i.platform_user_id}" for i in identities) or "-"
            state = "" if user.active else " (停用)"
            print(f"{user.id:>4}  {user.name:<10} {ROLE_NAMES_ZH[user.role]:<4} {user.role.value:<10} {ids}{state}")
        return 0

    return _run_domain(lambda: _with_database(settings, work))


def cmd_check_ledger(args: argparse.Namespace) -> int:
    from core.ledger import check_ledger

    settings = _settings()

    async def work(database: Database) -> int:
        differences = await database.read(check_ledger)
        if not differences:
            print("账实相符: 每个批次的结存都等于流水合计 / ledger OK")
            return 0
        print(f"发现 {len(differences)} 处不一致 / ledger differences:")
        for d in differences:
            print(
                f"  lot {d.lot_id} product {d.product_id} warehouse {d.warehouse_id} lot_no {d.lot_no!r}: "
                f"on_hand {d.on_hand} != ledger {d.ledger_sum}"
            )
        return 1

    return asyncio.run(_with_database(settings, work))


def cmd_barcode(args: argparse.Namespace) -> int:
    from core.barcode_reader import barcode_cli

    return barcode_cli(args.files)


def cmd_alerts(args: argparse.Namespace) -> int:
    from bot.schema import upgrade
    from scheduler import describe_all_routes, run_job

    settings = _settings()
    try:
        if args.action == "routes":

            async def routes() -> str:
                await upgrade(settings.database_url)
                return await describe_all_routes(settings)

            print(asyncio.run(routes()))
            return 0

        async def run() -> str:
            await upgrade(settings.database_url)
            return await run_job(settings, args.job, force=args.force)

        print(asyncio.run(run()))
    except (ConfigError, ValueError) as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from bot.schema import upgrade
    from scheduler import run_standalone

    settings = _settings()

    async def run() -> None:
        await upgrade(settings.database_url)
        await run_standalone(settings)

    asyncio.run(run())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bot.kv import open_store
    from bot.platforms import configured_adapters

    settings = _settings()

    async def work() -> int:
        store = open_store(settings.redis_url)
        try:
            adapters = configured_adapters(settings.env, store)
        except ValueError as exc:
            print(f"配置错误: {exc}")
            return 2
        if not adapters:
            print("没有配置任何平台 / no platform configured (see docs/platforms/)")
            return 1
        failed = 0
        for adapter in adapters:
            verdict = await adapter.check()  # type: ignore[attr-defined]
            ok = verdict.startswith("OK")
            failed += not ok
            print(f"{adapter.platform}: {verdict}")
            await adapter.close()
        await store.close()
        return 1 if failed else 0

    return asyncio.run(work())


def _run_domain(run: Callable[[], Coroutine[Any, Any, int]]) -> int:
    try:
        return asyncio.run(run())
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 1


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psibot", description="进销存机器人 psibot")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, handler, help_text in (
        ("demo", cmd_demo, "演示: 演示数据 + 网页聊天控制台 (SQLite by default)"),
        ("serve", cmd_serve, "生产服务器 (no demo data, console off unless PSIBOT_CONSOLE_TOKEN)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8080)
        p.set_defaults(handler=handler)

    p = sub.add_parser("db", help="数据库 / database")
    p.add_argument("action", choices=["upgrade"])
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(handler=cmd_db)

    p = sub.add_parser("import", help="导入 CSV / Excel")
    p.add_argument("kind", choices=["products", "stock", "customers", "suppliers"])
    p.add_argument("file")
    p.add_argument("--as-user", type=int, default=None, help="以这个用户 ID 的名义导入 (audit log)")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("users", help="用户与聊天账号 / users and chat identities")
    users = p.add_subparsers(dest="action", required=True)
    add = users.add_parser("add")
    add.add_argument("--platform", required=True, choices=["wecom", "dingtalk", "feishu", "console"])
    add.add_argument("--id", required=True, help="WeCom UserID / DingTalk userId / Feishu open_id or user_id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, help="sales|warehouse|purchaser|manager|owner|admin (或中文)")
    users.add_parser("list")
    p.set_defaults(handler=cmd_users)

    p = sub.add_parser("check-ledger", help="核对库存与流水 / prove on-hand equals the ledger")
    p.set_defaults(handler=cmd_check_ledger)

    p = sub.add_parser("barcode", help="识别条码照片 / decode barcode photos")
    p.add_argument("files", nargs="+")
    p.set_defaults(handler=cmd_barcode)

    p = sub.add_parser("alerts", help="提醒: 立即运行一个任务或查看路由 / run an alert job now, show routes")
    alerts = p.add_subparsers(dest="action", required=True)
    run = alerts.add_parser("run")
    run.add_argument("job", choices=["low-stock", "near-expiry", "digest"])
    run.add_argument("--force", action="store_true", help="今天已发过的也再发一次")
    alerts.add_parser("routes")
    p.set_defaults(handler=cmd_alerts)

    p = sub.add_parser("scheduler", help="只运行定时提醒 / run the scheduler alone")
    p.set_defaults(handler=cmd_scheduler)

    p = sub.add_parser("check", help="检查各平台配置 / call each configured platform's token endpoint")
    p.set_defaults(handler=cmd_check)
    return parser


def _only_upgrades_run(record: logging.LogRecord) -> bool:
    """Of Alembic's notes, the lines saying a migration ran: every command upgrades the database
    first, and `psibot users list` opened with nine lines of plugin set-up and dialect notes."""
    return record.levelno >= logging.WARNING or record.getMessage().startswith("Running upgrade")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_upgrades_run)
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
