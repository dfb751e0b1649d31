"""The Telegram channel: alert and daily composers (HTML parse mode), a paced sender on python-telegram-bot, and
its outcome table. python-telegram-bot is asyncio: one thread owns its event loop (bridge.py); the rest of the
process is plain functions."""
