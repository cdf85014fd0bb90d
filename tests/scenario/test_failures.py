"""Never silence, never a stack trace: a bug becomes an apology and a logged traceback."""

from __future__ import annotations

import asyncio
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


async def test_a_stuck_event_holds_up_that_persons_next_message_only_for_a_while(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events of one person are handled in order, but one stuck (a database or platform that does not
    answer) lets the next go after LOCK_WAIT_SECONDS, as the turn lock does, instead of silencing them."""
    monkeypatch.setattr("bot.engine.LOCK_WAIT_SECONDS", 0.3)
    monkeypatch.setattr("bot.conversation.LOCK_WAIT_SECONDS", 0.3)
    unstuck = asyncio.Event()

    async def stuck(turn: Turn, command: object) -> None:
        await unstuck.wait()

    monkeypatch.setitem(handlers.COMMANDS, parser.Help, stuck)
    response = await console.client.post("/console/api/messages", json={"user": "wang", "text": "帮助"})
    assert response.status == 202
    replies = await console.say("wang", "库存 雪碧")
    assert [reply["title"] for reply in replies] == ["库存 · 雪碧 500ml"]
    unstuck.set()
