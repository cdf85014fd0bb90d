"""The psibot command as an admin runs it: a real process on a real SQLite file."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def psibot(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PSIBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )


def test_admin_workflow_from_the_command_line(tmp_path: Path):
    upgraded = psibot(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0
    assert "Running upgrade 0001 -> 0002" in upgraded.stderr and "setup plugin" not in upgraded.stderr
    added = psibot(tmp_path, "users", "add", "--platform", "wecom", "--id", "ZhangSan", "--name", "张三", "--role", "仓管")
    assert added.returncode == 0, added.stderr
    assert "张三（仓管）" in added.stdout
    duplicate = psibot(tmp_path, "users", "add", "--platform", "wecom", "--id", "ZhangSan", "--name", "张三", "--role", "sales")
    assert duplicate.returncode == 1 and "已经绑定过了" in duplicate.stderr
    listed = psibot(tmp_path, "users", "list")
    assert "张三" in listed.stdout and "wecom:ZhangSan" in listed.stdout
    assert listed.stderr == ""  # nothing to upgrade: nothing said about it

    (tmp_path / "products.csv").write_bytes(
        "编码,名称,条码,单位,售价,换算\nSP1,可口可乐,6901234567892,罐,3.5,1箱=24罐\n".encode("gbk")
    )
    imported = psibot(tmp_path, "import", "products", "products.csv")
    assert imported.returncode == 0, imported.stderr
    assert "新增 1" in imported.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,unit,sale_price\nA,B,瓶,abc\n", encoding="utf-8")
    rejected = psibot(tmp_path, "import", "products", str(bad))
    assert rejected.returncode == 1 and "第 2 行" in rejected.stderr and "售价不是数字" in rejected.stderr

    assert psibot(tmp_path, "check-ledger").returncode == 0


def test_check_ledger_reports_a_difference(tmp_path: Path):
    assert psibot(tmp_path, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        connection.executescript(
            """
            INSERT INTO warehouses (id, code, name, active) VALUES (1, 'MAIN', '主仓', 1);
            INSERT INTO products (id, sku, name, spec, brand, base_unit, sale_price, purchase_price, safety_stock,
                lot_tracked, active, avg_cost, name_key, pinyin_full, pinyin_initials, version, created_at, updated_at)
                VALUES (1, 'SP1', '可乐', '', '', '罐', 350, 200, 0, 0, 1, 0, '可乐', 'kele', 'kl', 1,
                '2026-11-22 00:00:00', '2026-11-22 00:00:00');
            INSERT INTO lots (id, product_id, warehouse_id, lot_no, on_hand, reserved, created_at)
                VALUES (1, 1, 1, '', 5000, 0, '2026-11-22 00:00:00');
            """
        )
    result = psibot(tmp_path, "check-ledger")
    assert result.returncode == 1
    assert "on_hand 5.000 != ledger 0" in result.stdout


def test_bad_configuration_names_the_variable(tmp_path: Path):
    result = psibot(tmp_path, "users", "list", env={"PSIBOT_TIMEZONE": "Nowhere/City"})
    assert result.returncode == 2 and "PSIBOT_TIMEZONE" in result.stderr


def test_demo_serves_health_and_the_console(tmp_path: Path):
    """`psibot demo` as a newcomer runs it: seeds, serves /healthz and answers a stock query in the console."""
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "PSIBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    environment.pop("PSIBOT_REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--port", str(port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    health = json.load(response)
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "demo did not start within 60 s"
                time.sleep(0.3)
        assert health["status"] == "ok" and health["database"] == "ok" and health["redis"] == "absent"
        request = urllib.request.Request(
            f"{base}/console/api/messages",
            data=json.dumps({"user": "warehouse", "text": "库存 SP0001"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
        deadline = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(f"{base}/console/api/messages?user=warehouse", timeout=5) as response:
                messages = json.load(response)["messages"]
            replies = [m["reply"] for m in messages if m["direction"] == "out"]
            if replies:
                break
            assert time.monotonic() < deadline, "no reply within 15 s"
            time.sleep(0.2)
        text = json.dumps(replies[0], ensure_ascii=False)
        assert "可口可乐" in text and "主仓" in text
    finally:
        process.terminate()
        process.wait(timeout=20)
