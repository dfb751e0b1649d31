"""The Telegram chat commands: what each command does (commands.py, plain functions over the database), the texts
it answers with, and the bridge that turns an incoming Update into replies sent through the bot (replies.py)."""
