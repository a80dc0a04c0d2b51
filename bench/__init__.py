"""The end-to-end benchmark of issue 7: `python -m bench` (`make bench`, `make bench-quick`).

It drives the real service over its Telegram webhook with many simulated users, counts the replies at a
local fake Bot API, and measures two references on the same machine: a bare aiohttp webhook (store the
update, send one reply: the practical limit) and the same intake written the way python-telegram-bot's
examples do it. Every server runs in its own process, so each one's memory is its own. Not a test.
"""
