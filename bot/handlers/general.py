"""Help, greetings and thanks, strangers, binding colleagues from chat, cancelling a flow (or a draft), and
what nobody understood."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import help_card, help_lines
from bot.handlers import drafts, stock
from bot.model import Target, Text, TextMessage
from bot.outbox import enqueue
from bot.parser import USAGE, Bind, Unknown, Usage, fold
from bot.turn import Turn
from core.models import Role
from core.users import ROLE_NAMES_ZH, add_user, parse_role, require_role, users_with_roles


async def stranger(turn: Turn) -> None:
    """Someone without a psibot account: say whom to ask, and nothing else."""

    async def admin_names(session: AsyncSession) -> list[str]:
        return [user.name for user in await users_with_roles(session, [Role.ADMIN])]

    names = await turn.lookup(admin_names)
    who = "、".join(names) if names else "贵公司的 psibot 管理员"
    turn.say(
        Text(
            f"您好，您还没有开通 psibot 账号，暂时不能查询或下单。请联系管理员 {who} 为您开通"
            f"（管理员在群里对我说“绑定 @您 销售”即可）。"
        )
    )


async def show_help(turn: Turn, _command: object = None) -> None:
    turn.say(help_card(turn.user))


async def greet(turn: Turn, _command: object = None) -> None:
    """A hello answered in one line naming what this person can do; the card is one word away."""
    can = "、".join(what.replace(" / ", "、") for what, _how in help_lines(turn.user.role))
    turn.say(Text(f"您好，{turn.user.name}！我可以帮您：{can}。发送“帮助”看全部命令。"))


async def thank(turn: Turn, _command: object = None) -> None:
    turn.say(Text("不客气！有需要随时找我。"))


async def acknowledge(turn: Turn, _command: object = None) -> None:
    turn.say(Text("好的，有需要随时找我。"))


async def unknown(turn: Turn, command: object = None) -> None:
    """A product's bare name is a stock question (雪碧); anything else gets the help card."""
    text = fold(command.text).strip() if isinstance(command, Unknown) else ""
    if _LOOKS_LIKE_A_NAME.fullmatch(text) and await stock.product_named(turn, text):
        return
    turn.say(help_card(turn.user, intro="没看懂这句话。可以这样说:"))


# One word with a Chinese character, as short as names are: 雪碧, 可口可乐330ml; not a sentence.
_LOOKS_LIKE_A_NAME = re.compile(r"(?=.*[\u4e00-\u9fff])[^\s,，。！？!?]{2,20}")


async def usage(turn: Turn, command: Usage) -> None:
    turn.say(Text(f"格式: {USAGE[command.command]}"))


async def cancel_flow(turn: Turn, _command: object = None) -> None:
    """The flow waiting for an answer first (取消 during a count cancels the count); else the draft card."""
    if await turn.services.conversations.get(turn.origin):
        await turn.services.conversations.clear(turn.origin)
        turn.say(Text("已取消。"))
    elif not await drafts.cancel(turn):
        turn.say(Text("当前没有进行中的操作。"))


async def bind(turn: Turn, command: Bind) -> None:
    """`绑定 @小刘 仓管`: an admin gives a colleague an account from chat (the @ carries their id)."""
    require_role(turn.user, {Role.ADMIN}, "绑定同事账号")
    role = parse_role(command.role)
    event = turn.event
    mentions = event.mentions if isinstance(event, TextMessage) else ()
    platform_user_id = mentions[0] if mentions else command.person
    name = command.person.lstrip("@")

    async def work(session: AsyncSession) -> None:
        user = await add_user(
            session, platform=turn.origin.platform, platform_user_id=platform_user_id, name=name, role=role,
            actor=turn.user,
        )
        enqueue(
            session,
            Target(turn.origin.platform, "user", platform_user_id),
            Text(f"{user.name}，您好！{turn.user.name} 已为您开通 psibot（{ROLE_NAMES_ZH[role]}）。发“帮助”看看能做什么。"),
        )

    turn.say(Text(f"已绑定 {name} 为{ROLE_NAMES_ZH[role]}。"))
    await turn.transact(work)
