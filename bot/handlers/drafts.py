"""A card's buttons typed instead of pressed: a row number picks on the pick card last shown (`pick_row`), and 确认 / 修改 / 取消 / 撤回 / 申请特批 act on the draft card the
person last made or pressed in this chat (`Conversations.latest_draft`), whatever it is (a sales order draft,
a purchase draft from 生成采购单, a write-off, a return or a payment to confirm), by running that button's own code: the same checks,
the same answer, the card updated as when pressed. A word the card has no button for is answered with what
it has.

The card's kind is the first part of its id (`bot.cards.new_card_id`; a purchase draft's is `po:…:draft`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.handlers import accounts, general, orders, purchases, returns, writeoffs
from bot.model import CardAction, Text
from bot.parser import USAGE, ConfirmDraft, EditDraft, PickRow, RequestCredit, Unknown, WithdrawCredit
from bot.turn import Turn

NO_DRAFT = f"没有待确认的草稿。要下单请发：{USAGE['order']}"

# The button's code, given the card's id and what was typed after the word (a 特批's reason).
TypedButton = Callable[[Turn, str, str], Awaitable[None]]


def _button(code: Callable[[Turn, str], Awaitable[None]]) -> TypedButton:
    """A button that takes nothing typed after its word."""
    return lambda turn, card_id, _rest: code(turn, card_id)


@dataclass(frozen=True, slots=True)
class DraftKind:
    name: str  # as the card is called in an answer
    buttons: dict[str, tuple[str, TypedButton]]  # typed word (a key of WORDS) → (the button, its code)


KINDS: dict[str, DraftKind] = {
    "order": DraftKind(
        "销售单草稿",
        {"confirm": ("确认", _button(orders.confirm_typed)), "edit": ("修改", _button(orders.edit_typed)),
         "cancel": ("取消", _button(orders.cancel_typed)), "credit": ("申请特批", orders.credit_typed),
         "withdraw": ("撤回特批", _button(orders.withdraw_typed))},
    ),
    "po": DraftKind(
        "采购单草稿",
        {"confirm": ("提交审批", _button(purchases.submit_typed)), "cancel": ("取消", _button(purchases.cancel_typed))},
    ),
    "writeoff": DraftKind(
        "报损卡片",
        {"confirm": ("确认报损", _button(writeoffs.confirm_typed)), "cancel": ("取消", _button(writeoffs.cancel_typed))},
    ),
    "return": DraftKind(
        "退货卡片",
        {"confirm": ("确认退货", _button(returns.confirm_typed)), "cancel": ("取消", _button(returns.cancel_typed))},
    ),
    "collect": DraftKind(
        "收款卡片",
        {"confirm": ("确认收款", _button(accounts.confirm_typed)), "cancel": ("取消", _button(accounts.cancel_typed))},
    ),
    "pay": DraftKind(
        "付款卡片",
        {"confirm": ("确认付款", _button(accounts.confirm_typed)), "cancel": ("取消", _button(accounts.cancel_typed))},
    ),
}

WORDS = {"confirm": "确认", "edit": "修改", "cancel": "取消", "credit": "申请特批", "withdraw": "撤回特批"}


async def _press(turn: Turn, word: str, rest: str = "") -> bool:
    """The latest draft card's button for `word`, run; or what that card offers instead. False when there is
    no draft card to act on."""
    card_id = await turn.services.conversations.latest_draft(turn.origin)
    if card_id is None:
        return False
    kind = KINDS[card_id.partition(":")[0]]
    button = kind.buttons.get(word)
    if button is None:
        offers = "或".join(f"“{label}”" for label, _code in kind.buttons.values())
        turn.say(Text(f"您最近的{kind.name}不能{WORDS[word]}，可以发{offers}。"))
        return True
    await button[1](turn, card_id, rest)
    return True


async def confirm(turn: Turn, _command: ConfirmDraft) -> None:
    if not await _press(turn, "confirm"):
        turn.say(Text(NO_DRAFT))


async def edit(turn: Turn, _command: EditDraft) -> None:
    if not await _press(turn, "edit"):
        turn.say(Text(NO_DRAFT))


async def cancel(turn: Turn) -> bool:
    """取消 typed with no flow waiting: the latest draft card's 取消; False when there is no such card."""
    return await _press(turn, "cancel")


async def request_credit(turn: Turn, command: RequestCredit) -> None:
    if not await _press(turn, "credit", command.reason):
        turn.say(Text("没有超出信用额度的草稿要申请特批。下单后点“确认”，超出额度时再申请。"))


async def withdraw(turn: Turn, _command: WithdrawCredit) -> None:
    if not await _press(turn, "withdraw"):
        turn.say(Text("没有可撤回的特批申请。"))


async def pick_row(turn: Turn, command: PickRow) -> None:
    """`2`: the second row of the pick card last shown to me here, pressed (DingTalk shows a card's first 4
    buttons, WeCom its first 6); with no pick card waiting, a number alone is not understood."""
    from bot.handlers import ACTIONS  # the registry imports this module

    remembered = await turn.services.conversations.latest_pick(turn.origin)
    if remembered is None:
        await general.unknown(turn, Unknown(command.text))
        return
    card_id, buttons = remembered
    if command.number > len(buttons):
        turn.say(Text(f"请回复 1 到 {len(buttons)} 之间的序号，或点卡片上的按钮。"))
        return
    action, value = buttons[command.number - 1]
    await ACTIONS[action](turn, CardAction(turn.origin, turn.event.event_id, action, value, card_id))
