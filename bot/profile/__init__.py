"""The profile language and matching: parse interests, index all profiles, match papers, search.

Pure: no I/O. See DESIGN.md "Profile language" for the syntax.
"""

from bot.profile.grammar import (
                                 MAX_INTEREST_CHARS,
                                 MAX_INTERESTS,
                                 MAX_TERMS_PER_INTEREST,
                                 MAX_TERMS_PER_PROFILE,
                                 check_interests,
                                 parse_interest,
                                 parse_profile,
)
from bot.profile.index import ProfileIndex, RejectedInterest
from bot.profile.lookalikes import DASHES, interest_warnings
from bot.profile.matchsets import MatchSets
from bot.profile.nodes import And, Field, Not, Or, Phrase, Prefix, Term, Trending
from bot.profile.reference import evaluate
from bot.profile.search import search
from bot.profile.trending import trending_ids

__all__ = [
                                 "MAX_INTERESTS",
                                 "MAX_INTEREST_CHARS",
                                 "MAX_TERMS_PER_INTEREST",
                                 "MAX_TERMS_PER_PROFILE",
                                 "DASHES",
                                 "And",
                                 "Field",
                                 "Not",
                                 "MatchSets",
                                 "Or",
                                 "Phrase",
                                 "Prefix",
                                 "ProfileIndex",
                                 "RejectedInterest",
                                 "Term",
                                 "Trending",
                                 "check_interests",
                                 "evaluate",
                                 "interest_warnings",
                                 "parse_interest",
                                 "parse_profile",
                                 "search",
                                 "trending_ids",
]
