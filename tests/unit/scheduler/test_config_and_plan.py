"""Pure parts of the scheduler: the config file, route matching, the quiet rule, triggers and the chart."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.alerts import AlertKind, AlertState, Destination, Finding, Route, plan
from core.config import ConfigError
from core.stock import LowStockRow
from scheduler.chart import sales_chart
from scheduler.config import describe_routes, parse_config
from scheduler.routing import Router, usable
from scheduler.runner import last_fire_time, triggers

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXAMPLE = {
    "schedule": {"near_expiry_at": "08:30", "low_stock_every_minutes": 15, "working_hours": "09:00-18:00"},
    "robots": {"ops": {"platform": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=abcdef",
                       "secret": "SECx"}},
    "routes": [
        {"alerts": ["low_stock"], "warehouse": "门店仓", "chats": ["wecom:wrStore"]},
        {"alerts": ["low_stock"], "warehouse": "门店仓", "category": "饮料", "robots": ["ops"]},
        {"alerts": ["near_expiry", "low_stock"], "roles": ["manager"]},
    ],
}


def test_the_file_is_read_and_described_with_the_webhook_key_masked() -> None:
    config = parse_config(EXAMPLE)
    assert config.schedule.low_stock_every_minutes == 15 and config.schedule.working_hours == (9, 18)
    text = describe_routes(config)
    assert "临期: 每天 08:30" in text and "[文件] 缺货 [仓库=门店仓 分类=饮料] → 群机器人 ops" in text
    assert "abcdef" not in text and "access_token=abcd…" in text


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"schedule": {"low_stock_every_minutes": 7}}, "must divide 60"),
        ({"schedule": {"digest_at": "6pm"}}, "digest_at"),
        ({"routes": [{"roles": ["boss"]}]}, "no role 'boss'"),
        ({"routes": [{"robots": ["nope"]}]}, "no [alerts.robots.nope]"),
        ({"routes": [{"alerts": ["low_stock"]}]}, "sends nowhere"),
        ({"routes": [{"warehouse": "主仓", "roles": ["owner"]}]}, "digest covers the whole company"),
        ({"robots": {"x": {"platform": "slack", "url": "https://x"}}}, "platform must be one of"),
    ],
)
def test_a_wrong_value_is_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(table)


def test_the_most_specific_route_wins_and_unmatched_alerts_go_to_the_default_roles() -> None:
    config = parse_config(EXAMPLE)
    store, drinks, snacks = 2, 10, 11
    router = Router(((config.routes[0], store, None), (config.routes[1], store, drinks), (config.routes[2], None, None)),
                    config)
    assert router.destinations(AlertKind.LOW_STOCK, store, drinks) == (Destination("robot", "ops"),)
    assert router.destinations(AlertKind.LOW_STOCK, store, snacks) == (Destination("chat", "wecom:wrStore"),)
    assert router.destinations(AlertKind.LOW_STOCK, 1, snacks) == (Destination("role", "manager"),)
    assert router.destinations(AlertKind.DIGEST, None, None) == (Destination("role", "manager"), Destination("role", "owner"))


def _finding(subject: str, state: str = "low") -> Finding:
    row = LowStockRow(1, "P1", "可乐", "", "罐", Decimal(24), None, Decimal(1), Decimal(1), None)
    return Finding(subject, AlertKind.LOW_STOCK, state, "可乐（主仓）", 1, 1, "主仓", None, row)


def _state(subject: str, state: str, last: date, handled: bool = False) -> AlertState:
    return AlertState(subject=subject, kind="low_stock", state=state, last_alerted_on=last,
                      handled_at=datetime(2027, 1, 1, tzinfo=SHANGHAI) if handled else None)


def test_alert_once_per_state_at_most_daily_and_recover_when_gone() -> None:
    today = date(2027, 1, 10)
    opened = {
        "a": _state("a", "low", today),  # said today: quiet
        "b": _state("b", "low", date(2027, 1, 9)),  # said yesterday: repeat
        "c": _state("c", "near", today),  # new state: alert
        "d": _state("d", "low", date(2027, 1, 9), handled=True),  # handled: quiet
        "gone": _state("gone", "low", today),  # cleared: 已恢复
    }
    result = plan([_finding(s, "expired" if s == "c" else "low") for s in "abcde"], opened, today, force=False)
    assert [f.subject for f in result.alert] == ["b", "c", "e"]
    assert [s.subject for s in result.recovered] == ["gone"] and result.quiet == 2
    assert len(plan([_finding("a")], {"a": opened["a"]}, today, force=True).alert) == 1


def test_triggers_fire_in_the_company_time_zone_and_look_back() -> None:
    config = parse_config(EXAMPLE)
    jobs = triggers(config.schedule, SHANGHAI)
    at = datetime(2027, 1, 10, 8, 0, tzinfo=SHANGHAI)
    assert jobs["near-expiry"].get_next_fire_time(None, at) == datetime(2027, 1, 10, 8, 30, tzinfo=SHANGHAI)
    assert last_fire_time(jobs["near-expiry"], at) == datetime(2027, 1, 9, 8, 30, tzinfo=SHANGHAI)
    noon = datetime(2027, 1, 10, 12, 7, tzinfo=SHANGHAI)
    assert last_fire_time(jobs["low-stock"], noon) == datetime(2027, 1, 10, 12, 0, tzinfo=SHANGHAI)
    evening = datetime(2027, 1, 10, 21, 0, tzinfo=SHANGHAI)
    assert last_fire_time(jobs["low-stock"], evening) == datetime(2027, 1, 10, 17, 45, tzinfo=SHANGHAI)


def test_the_chart_is_a_png() -> None:
    data = sales_chart([(date(2027, 1, d), Decimal(d * 100)) for d in range(1, 15)])
    assert data.startswith(b"\x89PNG") and len(data) < 60_000


def test_a_route_made_in_chat_to_a_robot_the_file_no_longer_defines_is_left_out() -> None:
    config = parse_config(EXAMPLE)
    kept = Route((AlertKind.LOW_STOCK,), (Destination("robot", "ops"),), number=1)
    gone = Route((AlertKind.LOW_STOCK,), (Destination("robot", "old"),), number=2)
    assert usable(config, [(kept, None, None), (gone, None, None)]) == [(kept, None, None)]
