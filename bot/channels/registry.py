"""Every platform chibo speaks, in one list: the app opens each enabled one, the settings read
their rates, delivery their names.

Adding a platform (Web Push, say) is one adapter module in ``bot/channels/`` that implements the
``Connection`` contract (``bot/channels/base.py``), its small spec in ``bot/channels/specs/``
(name, limits, what enables it, ``open``), and one line here. Nothing else names platforms.
"""

from __future__ import annotations

from bot.channels.base import Channel
from bot.channels.specs import telegram, web, zalo_bot, zalo_oa

CHANNELS: tuple[Channel, ...] = (
    telegram.CHANNEL,
    zalo_bot.CHANNEL,
    zalo_oa.CHANNEL,
    web.CHANNEL,
)


def titles() -> dict[str, str]:
    """Each platform's name as members know it, by its key."""
    return {channel.key: channel.title for channel in CHANNELS}
