"""Replies survive the trip through JSON (the outbox stores them so)."""

from __future__ import annotations

import pytest

from bot.model import Button, ButtonStyle, Card, Image, Markdown, Reply, Table, Text, Tone
from bot.serial import reply_from_json, reply_to_json


@pytest.mark.parametrize(
    "reply",
    [
        Text("你好"),
        Markdown("标题", "**粗体**\n- 一行"),
        Image(b"\x89PNG...", "image/png", "条码"),
        Card(
            "po:1:step:1", "采购审批 · PO-20261122-0001", Tone.WARNING, (("金额", "¥1,234.50"),),
            (Table(("商品", "数量"), (("可乐", "1箱6罐"),)),), "备注",
            (Button("批准", "po.approve", {"order_id": "1"}, ButtonStyle.PRIMARY),), "",
        ),
    ],
)
def test_round_trip(reply: Reply) -> None:
    assert reply_from_json(reply_to_json(reply)) == reply
