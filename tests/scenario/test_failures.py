"""Never silence, never a stack trace: a bug becomes an apology and a logged traceback."""

from __future__ import annotations

import logging

import pytest

from bot import handlers, parser
from bot.engine import APOLOGY
from bot.turn import Turn
from tests.scenario.conftest import Console


async def test_an_unexpected_error_gets_a_polite_apology_and_a_logged_traceback(
    console: Console, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(turn: Turn, command: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.COMMANDS, parser.Help, broken)
    with caplog.at_level(logging.ERROR, logger="psibot.engine"):
        replies = await console.say("wang", "帮助")
    assert replies == [{"type": "text", "text": APOLOGY}]
    assert any("boom" in (record.exc_text or "") or record.exc_info for record in caplog.records)


async def test_an_unknown_button_says_it_has_expired(console: Console) -> None:
    response = await console.client.post(
        "/console/api/actions", json={"user": "wang", "card_id": "old", "action": "no.such.action", "value": {}}
    )
    assert response.status == 202
    assert await console.replies("wang") == [{"type": "text", "text": "这个按钮已失效，请重新发起。"}]
