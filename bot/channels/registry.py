"""Every platform chibo speaks, in one list: the app opens each enabled one, the settings are made
of their settings, delivery names them from it.

Adding a platform (Web Push, say): its adapter module in ``bot/channels/`` (a ``Connection``, see
``bot/channels/base.py``), its spec in ``bot/channels/specs/`` (its settings, limits, what enables
it, ``open``), and its entry here, in CHANNELS and ChannelSettings (and its value in
``models.tables.Platform``, where rows name it). Nothing else names platforms.
"""

from __future__ import annotations

from bot.channels.base import Channel
from bot.channels.specs import telegram, web, web_push, zalo_bot, zalo_oa

CHANNELS: tuple[Channel, ...] = (
    telegram.CHANNEL,
    zalo_bot.CHANNEL,
    zalo_oa.CHANNEL,
    web.CHANNEL,
    web_push.CHANNEL,
)


class ChannelSettings(
    telegram.TelegramSettings, zalo_bot.ZaloBotSettings, zalo_oa.ZaloOaSettings, web_push.WebPushSettings
):
    """Every channel's settings, part of bot.settings.Settings."""


def titles() -> dict[str, str]:
    """Each platform's name as members know it, by its key."""
    return {channel.key: channel.title for channel in CHANNELS}
