"""`helpline telegram set-webhook`: point Telegram at this service and set the bot's command menu."""

from __future__ import annotations

import asyncio
import sys

from telegram import Bot, BotCommand
from telegram.error import InvalidToken, TelegramError

from bots.channels.telegram.channel import ALLOWED_UPDATES, WEBHOOK_PATH
from bots.channels.telegram.settings import TelegramSettings
from intake.categories import N_
from intake.config import ConfigError, Settings
from intake.i18n import Catalogs, compile_catalogs, default_locales_dir
from intake.keywords import Keyword, KeywordTable, default_table

# The /start command's label: the web chat page's title, the same neutral word (one catalog entry).
START = N_("Chat")


def bot_commands(catalogs: Catalogs, keywords: KeywordTable) -> dict[str | None, list[BotCommand]]:
    """The command menu per language (None: everyone else, in the first language). Neutral words only:
    someone looking at the phone sees this menu."""

    def commands(lang: str) -> list[BotCommand]:
        return [
            BotCommand("start", catalogs.texts(lang)(START)),
            BotCommand("help", keywords.word(Keyword.HELP, lang).capitalize()),
            BotCommand("language", keywords.word(Keyword.LANGUAGE, lang).capitalize()),
            BotCommand("delete", keywords.word(Keyword.DELETE, lang).capitalize()),
        ]

    menus: dict[str | None, list[BotCommand]] = {None: commands(catalogs.languages[0])}
    for lang in catalogs.languages:
        if len(lang) == 2:  # setMyCommands takes two-letter ISO 639-1 codes
            menus[lang] = commands(lang)
    return menus


async def register_webhook(settings: Settings) -> str:
    """`helpline telegram set-webhook`: point Telegram at HELPLINE_PUBLIC_URL/webhooks/telegram with the
    secret, ask only for messages and button presses, and set the command menu. Returns the URL."""
    config = TelegramSettings.required(settings)
    if settings.public_url is None or not settings.public_url.startswith("https://"):
        raise ConfigError("HELPLINE_PUBLIC_URL must be the service's public https address for set-webhook")
    url = settings.public_url + WEBHOOK_PATH
    compile_catalogs(default_locales_dir())
    catalogs = Catalogs(default_locales_dir(), settings.languages)
    try:
        async with Bot(config.token, base_url=config.api_url) as bot:  # getMe on the way in
            await bot.set_webhook(url=url, secret_token=config.secret, allowed_updates=list(ALLOWED_UPDATES))
            for lang, commands in bot_commands(catalogs, default_table()).items():
                await bot.set_my_commands(commands, language_code=lang)
    except InvalidToken:
        raise ConfigError("HELPLINE_TELEGRAM_TOKEN was refused by Telegram") from None
    return url


def set_webhook_command(settings: Settings) -> int:
    """The command's result as one line; a wrong setting raises ConfigError (the CLI prints it)."""
    try:
        url = asyncio.run(register_webhook(settings))
    except TelegramError as exc:
        print(f"helpline: telegram: {exc.message}", file=sys.stderr)
        return 1
    print(f"webhook set: {url}")
    return 0
