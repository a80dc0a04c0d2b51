"""The anonymous web chat: the page and its JSON routes (chat.py, channel.py), the landing's words and the
line's state (page.py), the settings (settings.py)."""

from __future__ import annotations

from bots.channels.webchat.channel import NAME, WebChatChannel
from bots.channels.webchat.chat import WebChat
from bots.channels.webchat.settings import WebChatSettings
from intake.config import Settings


def load(settings: Settings) -> WebChatChannel:
    """Always on."""
    return WebChatChannel(WebChatSettings.from_env(settings))


__all__ = ["NAME", "WebChat", "WebChatChannel", "WebChatSettings", "load"]
