"""Reference (b): the same three-question intake written the way python-telegram-bot's examples do it.

A `ConversationHandler` (language? role? age?) with `PicklePersistence`, as in PTB's
persistentconversationbot example, behind a custom aiohttp webhook that puts each update on the
application's queue, as in PTB's customwebhookbot example (`Application.builder()...updater(None)`). The
Bot API base URL points at the benchmark's fake. Every message gets exactly one reply, so the driver runs
the script ("/start", language, role, age) over and over. Run as `python -m bench.reference_ptb`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
LANGUAGE, ROLE, AGE = range(3)

LANGUAGES = [["1 Norsk"], ["2 English"], ["3 العربية"]]
ROLES = [["1 About myself"], ["2 About someone I know"], ["3 As a professional"]]
AGES = [["1 Under 18"], ["2 18 or older"]]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    await update.message.reply_text(
        "Hi, you have reached the helpline. Which language do you want to write in?",
        reply_markup=ReplyKeyboardMarkup(LANGUAGES, one_time_keyboard=True),
    )
    return LANGUAGE


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    assert context.user_data is not None
    context.user_data["language"] = update.message.text
    await update.message.reply_text(
        "Who are you writing about?", reply_markup=ReplyKeyboardMarkup(ROLES, one_time_keyboard=True)
    )
    return ROLE


async def role(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    assert context.user_data is not None
    context.user_data["role"] = update.message.text
    await update.message.reply_text(
        "How old are you?", reply_markup=ReplyKeyboardMarkup(AGES, one_time_keyboard=True)
    )
    return AGE


async def age(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    assert context.user_data is not None
    context.user_data["age"] = update.message.text
    await update.message.reply_text(
        "Thank you. A staff member will answer you soon.", reply_markup=ReplyKeyboardRemove()
    )
    return ConversationHandler.END


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    await update.message.reply_text("Bye.", reply_markup=ReplyKeyboardRemove())
    return ConversationHandler.END


def build_application(api_url: str, token: str, persistence_path: str) -> Application:  # type: ignore[type-arg]
    persistence = PicklePersistence(filepath=persistence_path)
    application = (
        Application.builder().token(token).base_url(api_url).updater(None).persistence(persistence).build()
    )
    text = filters.TEXT & ~filters.COMMAND
    conversation = ConversationHandler(
        entry_points=[CommandHandler("start", start)],
        states={
            LANGUAGE: [MessageHandler(text, language)],
            ROLE: [MessageHandler(text, role)],
            AGE: [MessageHandler(text, age)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="intake",
        persistent=True,
        allow_reentry=True,
    )
    application.add_handler(conversation)
    return application


async def serve(host: str, port: int, api_url: str, token: str, secret: str, persistence_path: str) -> None:
    application = build_application(api_url, token, persistence_path)

    async def telegram(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != secret:
            raise web.HTTPForbidden()
        await application.update_queue.put(Update.de_json(data=await request.json(), bot=application.bot))
        return web.Response()

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    webserver = web.Application()
    webserver.router.add_post("/telegram", telegram)
    webserver.router.add_get("/healthz", healthz)
    runner = web.AppRunner(webserver, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with application:
        await application.start()
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        await stop.wait()
        await runner.cleanup()
        await application.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True, help="the Bot API base URL, e.g. http://127.0.0.1:1/bot")
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--persistence", required=True, help="the PicklePersistence file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.api_url, args.token, args.secret, args.persistence))


if __name__ == "__main__":
    main()
