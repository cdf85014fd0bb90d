"""Which chat platforms are on: each one whose environment variables are set; and the group robots."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.dingtalk import DingTalkAdapter
from adapters.dingtalk import Settings as DingTalkSettings
from adapters.feishu import FeishuAdapter
from adapters.feishu import Settings as FeishuSettings
from adapters.robot import PLATFORM as ROBOT_PLATFORM
from adapters.robot import RobotAdapter, Webhook
from adapters.wecom import Settings as WeComSettings
from adapters.wecom import WeComAdapter
from bot.adapter import Adapter
from bot.kv import KeyValueStore


def configured_adapters(env: Mapping[str, str], store: KeyValueStore) -> list[Adapter]:
    """The adapters whose variables are set; a half-set platform raises ValueError naming the variable."""
    adapters: list[Adapter] = []
    wecom = WeComSettings.from_env(env)
    if wecom is not None:
        adapters.append(WeComAdapter(wecom, store))
    dingtalk = DingTalkSettings.from_env(env)
    if dingtalk is not None:
        adapters.append(DingTalkAdapter(dingtalk, store))
    feishu = FeishuSettings.from_env(env)
    if feishu is not None:
        adapters.append(FeishuAdapter(feishu, store))
    return adapters


def robot_adapter(robots: Mapping[str, Webhook]) -> Adapter:
    """The outbox platform `ROBOT_PLATFORM` of the group robots named in the alert configuration."""
    return RobotAdapter(robots)


__all__ = ["ROBOT_PLATFORM", "configured_adapters", "robot_adapter"]
