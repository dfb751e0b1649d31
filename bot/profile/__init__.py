"""The profile language and matching: parse interests, index all profiles, match papers, search.

Pure: no I/O. See DESIGN.md "Profile language" for the syntax.
"""

from bot.profile.grammar import (
                                 MAX_INTEREST_CHARS,
                                 MAX_INTERESTS,
                                 MAX_TERMS_PER_INTEREST,
                                 MAX_TERMS_PER_PROFILE,
                                 check_interests,
                                 liked_columns,
                                 papers_liked_in,
                                 paper_id,
                                 parse_interest,
                                 parse_profile,
                                 unknown_liked,
)
from bot.profile.index import ProfileIndex, RejectedInterest
from bot.profile.lookalikes import DASHES, interest_warnings
from bot.profile.matchsets import MatchSets
from bot.profile.nodes import And, Field, Like, Not, Or, Phrase, Prefix, Term, Trending, liked_ids
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
                                 "Like",
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
                                 "liked_columns",
                                 "liked_ids",
                                 "papers_liked_in",
                                 "paper_id",
                                 "parse_interest",
                                 "parse_profile",
                                 "search",
                                 "trending_ids",
                                 "unknown_liked",
]
