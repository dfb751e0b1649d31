"""`python -m bot` is the same as the `paperpost` command."""

from bot.cli import main

main()
