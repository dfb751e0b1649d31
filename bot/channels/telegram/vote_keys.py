"""The vote buttons under Telegram alerts (pure): callback data `v:+:KEY` ("more like this") or `v:-:KEY`.

Telegram allows 64 bytes of callback data. KEY is the paper id itself when it fits (every
arXiv id does); a longer id (a feed's `url:...`) becomes `#` and a hash prefix, looked up
among the papers the pressing chat's subscriber was matched with. The data never says
whose vote it is: that is the chat the button was pressed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from bot.store.votes import LESS, MORE

CALLBACK_MAX = 64  # bytes: Telegram's limit on callback data
PREFIX = "v"
SIGNS = {"+": MORE, "-": LESS}
_HASHED = "#"  # no canonical id starts with it (arxiv:, doi:, url:, guid:)


def key_hash(paper_id: str) -> str:
    return hashlib.sha256(paper_id.encode()).hexdigest()[:20]


def vote_data(sign: str, paper_id: str) -> str:
    """The callback data of a vote button: the paper id when it fits, else its hash."""
    data = f"{PREFIX}:{sign}:{paper_id}"
    if len(data.encode()) <= CALLBACK_MAX:
        return data
    return f"{PREFIX}:{sign}:{_HASHED}{key_hash(paper_id)}"


def read_vote_data(data: str) -> tuple[int, str] | None:
    """(MORE or LESS, key) of a vote button's data; None for any other data."""
    prefix, _, rest = data.partition(":")
    sign, _, key = rest.partition(":")
    if prefix != PREFIX or sign not in SIGNS or not key:
        return None
    return SIGNS[sign], key


def is_hashed(key: str) -> bool:
    return key.startswith(_HASHED)


def find_hashed(key: str, candidates: Iterable[str]) -> str | None:
    """The paper id among `candidates` whose hash the key carries, or None."""
    wanted = key[len(_HASHED):]
    return next((paper_id for paper_id in candidates if key_hash(paper_id) == wanted), None)
