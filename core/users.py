"""People, their roles, and the chat accounts that speak for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.audit import record
from core.errors import Duplicate, Forbidden, InvalidInput, NotFound
from core.models import Identity, Role, User

PLATFORMS = ("wecom", "dingtalk", "feishu", "console")

ROLE_NAMES_ZH: dict[Role, str] = {
    Role.SALES: "销售",
    Role.WAREHOUSE: "仓管",
    Role.PURCHASER: "采购",
    Role.MANAGER: "经理",
    Role.OWNER: "老板",
    Role.ADMIN: "管理员",
}

# What a user may type for a role: English, the Chinese name, and common synonyms.
_ROLE_ALIASES: dict[str, Role] = {
    **{role.value: role for role in Role},
    **{name: role for role, name in ROLE_NAMES_ZH.items()},
    "业务员": Role.SALES,
    "销售员": Role.SALES,
    "仓库": Role.WAREHOUSE,
    "库管": Role.WAREHOUSE,
    "采购员": Role.PURCHASER,
    "主管": Role.MANAGER,
    "店长": Role.MANAGER,
    "老板娘": Role.OWNER,
    "admin管理员": Role.ADMIN,
}

# Roles that may see purchase prices, costs and margins.
COST_VIEWERS = frozenset({Role.PURCHASER, Role.MANAGER, Role.OWNER, Role.ADMIN, Role.WAREHOUSE})


def parse_role(text: str) -> Role:
    role = _ROLE_ALIASES.get(text.strip().lower())
    if role is None:
        names = "、".join(f"{zh}({role.value})" for role, zh in ROLE_NAMES_ZH.items())
        raise InvalidInput(f"没有这个角色: {text}。可选: {names}")
    return role


def has_role(actor: User, allowed: Iterable[Role]) -> bool:
    """Whether an active actor has one of the roles; admins and owners have every role."""
    return actor.active and actor.role in {*allowed, Role.ADMIN, Role.OWNER}


def require_role(actor: User, allowed: Iterable[Role], action: str) -> None:
    """Refuse an actor whose role is not allowed; admins and owners pass every check."""
    if not has_role(actor, allowed):
        raise Forbidden(f"{ROLE_NAMES_ZH[actor.role]}没有权限{action}", role=actor.role.value, action=action)


def can_see_costs(actor: User) -> bool:
    return actor.role in COST_VIEWERS


async def add_user(
    session: AsyncSession, *, platform: str, platform_user_id: str, name: str, role: Role, actor: User | None = None
) -> User:
    """Create a user with one chat identity, or bind the identity to the existing user of that name."""
    if platform not in PLATFORMS:
        raise InvalidInput(f"平台必须是 {', '.join(PLATFORMS)} 之一: {platform}")
    if not platform_user_id.strip() or not name.strip():
        raise InvalidInput("用户 ID 和姓名都不能为空")
    taken = await session.scalar(
        select(Identity).where(col(Identity.platform) == platform, col(Identity.platform_user_id) == platform_user_id)
    )
    if taken is not None:
        raise Duplicate(f"{platform} 账号 {platform_user_id} 已经绑定过了")
    user = await session.scalar(select(User).where(col(User.name) == name.strip()))
    if user is None:
        user = User(name=name.strip(), role=role)
        session.add(user)
        await session.flush()
        await record(session, actor, "user", user.id, "create", None, {"name": user.name, "role": role.value})
    elif user.role != role:
        before = {"role": user.role.value}
        user.role = role
        await record(session, actor, "user", user.id, "update", before, {"role": role.value})
    session.add(Identity(platform=platform, platform_user_id=platform_user_id, user_id=user.id or 0))
    await record(
        session, actor, "identity", user.id, "bind", None, {"platform": platform, "platform_user_id": platform_user_id}
    )
    await session.flush()
    return user


async def user_for_identity(session: AsyncSession, platform: str, platform_user_ids: Sequence[str]) -> User | None:
    """The active user behind any of the given ids of one person on a platform."""
    if not platform_user_ids:
        return None
    user = await session.scalar(
        select(User)
        .join(Identity, col(Identity.user_id) == User.id)
        .where(col(Identity.platform) == platform, col(Identity.platform_user_id).in_(list(platform_user_ids)))
    )
    return user if user is not None and user.active else None


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"没有这个用户: {user_id}")
    return user


async def list_users(session: AsyncSession) -> list[tuple[User, list[Identity]]]:
    users = (await session.scalars(select(User).order_by(col(User.id)))).all()
    identities = (await session.scalars(select(Identity).order_by(col(Identity.id)))).all()
    by_user: dict[int, list[Identity]] = {}
    for identity in identities:
        by_user.setdefault(identity.user_id, []).append(identity)
    return [(user, by_user.get(user.id or 0, [])) for user in users]


async def users_with_roles(session: AsyncSession, roles: Iterable[Role]) -> list[User]:
    return list(
        (
            await session.scalars(
                select(User)
                .where(col(User.role).in_([r.value for r in roles]), col(User.active).is_(True))
                .order_by(col(User.id))
            )
        ).all()
    )


async def identities_of(session: AsyncSession, user_id: int) -> list[Identity]:
    return list((await session.scalars(select(Identity).where(col(Identity.user_id) == user_id))).all())
