"""The fake Bot API server answers the real python-telegram-bot client as Telegram would (the peer the other tests trust)."""

from __future__ import annotations

import asyncio

import pytest
from fakebotapi import FakeBotAPI
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram_html import TelegramHTMLError, check_message, parse


def _run(server: FakeBotAPI, steps):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with Bot(server.token, base_url=server.base_url) as bot:
            return await steps(bot)
    return asyncio.run(main())


def test_the_real_client_sends_gets_updates_and_meets_each_scripted_error():
    with FakeBotAPI() as server:
        server.fail(7, 429, retry_after=3)
        server.fail(8, 403)
        server.fail(9, 400)
        server.fail(10, 400, migrate_to=-10010)
        server.user_writes(5, "/start")

        async def steps(bot: Bot):  # type: ignore[no-untyped-def]
            seen = []
            for chat, error in ((7, RetryAfter), (8, Forbidden), (9, BadRequest), (10, ChatMigrated)):
                with pytest.raises(error):
                    await bot.send_message(chat, "hello")
            await bot.send_message(7, "<b>bold</b> &amp; fine", parse_mode="HTML")
            with pytest.raises(BadRequest, match="parse entities"):
                await bot.send_message(5, "<b>open", parse_mode="HTML")
            updates = await bot.get_updates(timeout=0)
            seen.append([u.message.text for u in updates])
            seen.append(await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0))
            return seen

        texts, after = _run(server, steps)
        assert texts == ["/start"] and after == ()
        assert [c.params["text"] for c in server.sent(7)] == ["<b>bold</b> &amp; fine"]
        assert server.calls_to("getMe")


def test_the_html_checker_knows_telegrams_rules():
    assert parse("<a href=\"https://x.org/?a=1&amp;b=2\">t&lt;</a>").text == "t<"
    assert check_message("😀" * 2048).length == 4096
    for bad in ("<b>x", "x</b>", "<div>x</div>", "a & b", "a < b", "<a href=\"javascript:x\">x</a>", "😀" * 2049):
        with pytest.raises(TelegramHTMLError):
            check_message(bad)
