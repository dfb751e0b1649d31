"""Incoming updates in, answers out: the commands' actions sent through the process's bot bridge.

`UpdateHandler(app)` is what the worker's long polling and the webhook call with each
Update. A reply that Telegram refuses (the user blocked the bot meanwhile) is logged,
never raised: one chat must not stop the others.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.app import App
from bot.channels.telegram.bridge import BotBridge
from bot.logs import log_event
from subscribers.telegram.actions import Action, Answer, ButtonRow, Edit, Reply
from subscribers.telegram.commands import ChatCommands


def keyboard(rows: tuple[ButtonRow, ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, url=value) if value.startswith(("https://", "http://"))
                                  else InlineKeyboardButton(text, callback_data=value) for text, value in row]
                                 for row in rows])


async def perform(bot: Bot, action: Action) -> None:
    """Send, edit or acknowledge, as the action says."""
    no_preview = LinkPreviewOptions(is_disabled=True)
    if isinstance(action, Reply):
        await bot.send_message(action.chat_id, action.html, parse_mode=ParseMode.HTML,
                               reply_markup=keyboard(action.buttons), link_preview_options=no_preview)
    elif isinstance(action, Edit):
        await bot.edit_message_text(action.html, chat_id=action.chat_id, message_id=action.message_id,
                                    parse_mode=ParseMode.HTML, reply_markup=keyboard(action.buttons),
                                    link_preview_options=no_preview)
    elif isinstance(action, Answer):
        await bot.answer_callback_query(action.callback_id, text=action.text or None)


class UpdateHandler:
    """Handles one Update: the commands decide, the bridge sends."""

    def __init__(self, app: App, bridge: BotBridge | None = None):
        self.commands = ChatCommands(app)
        bridge = bridge or app.telegram
        if bridge is None:
            raise ValueError("Telegram chat commands need PAPERPOST_TELEGRAM_TOKEN")
        self.bridge = bridge

    def __call__(self, update: Update) -> None:
        try:
            actions = self.commands.handle(update)
        except Exception:  # noqa: BLE001 - a bug on one update must not stop the bot; it is logged with its id
            log_event("telegram.command_error", level=logging.ERROR, exc_info=True, update=update.update_id)
            return
        for action in actions:
            try:
                self.bridge.call(lambda bot, a=action: perform(bot, a))  # type: ignore[misc]
            except (TelegramError, TimeoutError) as exc:
                log_event("telegram.reply_failed", level=logging.WARNING, update=update.update_id,
                          error=f"{exc.__class__.__name__}: {exc}")
