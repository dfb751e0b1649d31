"""The profile language, table by table: each operator and field, normalisation, and errors."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.models import Hit, Paper
from bot.profile import (
    MAX_INTEREST_CHARS,
    MAX_INTERESTS,
    MAX_TERMS_PER_PROFILE,
    DASHES,
    And,
    Field,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    Trending,
    check_interests,
    evaluate,
    interest_warnings,
    parse_interest,
    parse_profile,
    search,
)
from bot.profile.grammar import _parse_general, _plain_words
from bot.profile.words import keys, tokenize

PAPER = Paper(
    id="arxiv:2401.00001",
    title="Reward Models for RLHF: Sínkhorn Fine-Tuning of Language Models",
    abstract=(
        "We study $\\alpha$-divergence objectives for aligning <i>large</i> language models. "
        "Our process answers user queries with a survey-free pipeline; see https://example.org/URL. "
        "Results on 3 benchmarks show robust alignment."
    ),
    authors=("Geoffrey Hinton", "Zoë Müller-Schmidt"),
    categories=("cs.CL", "cs.LG", "stat.ML"),
)


def matches(query: str, paper: Paper = PAPER, trending: frozenset[str] = frozenset()) -> bool:
    return evaluate(query, paper, trending) is not None


@pytest.mark.parametrize(
    "query, expected",
    [
        # words are ANDed
        ("reward", True),
        ("reward model", True),
        ("reward transformer", False),
        ("AND-less words RLHF reward", False),
        ("RLHF AND reward", True),
        # phrases
        ('"reward models"', True),
        ('"reward model"', True),  # plurals inside phrases
        ('"models reward"', False),
        ('"language models"', True),
        ('"large language models"', True),  # an inline HTML tag does not break a phrase
        ('"rlhf sinkhorn"', True),  # ':' between words is a separator, not a phrase break
        ('"models we"', False),  # the title and the abstract are not one text
        # OR (upper case only) and parentheses
        ("RLHF OR DPO", True),
        ("DPO OR PPO", False),
        ("(RLHF OR DPO) reward", True),
        ("(DPO OR PPO) reward", False),
        ("DPO or RLHF", False),  # lower-case `or` is a word, ANDed
        ("(DPO OR (PPO OR reward)) (align* OR xyz)", True),
        # exclusion
        ("reward -survey", False),  # "survey-free" holds the word survey
        ("reward -transformer", True),
        ("reward NOT transformer", True),
        ("reward NOT (transformer OR rlhf)", False),
        ("reward -(transformer OR diffusion)", True),
        ("reward (DPO OR -transformer)", True),
        # prefix
        ("align*", True),
        ("rlh*", True),
        ("diffus*", False),
        ("bench*", True),
        # fields
        ("ti:reward", True),
        ("ti:divergence", False),
        ("abs:divergence", True),
        ("abs:rlhf", False),
        ('ti:"fine tuning"', True),
        ("ti:(RLHF OR DPO)", True),
        ("ti:(DPO OR PPO)", False),
        ("ti:(reward -survey)", True),
        ("-ti:survey reward", True),
        ("au:hinton", True),
        ("au:HINTON", True),
        ("au:geoffrey", True),
        ('au:"geoffrey hinton"', True),
        ('au:"hinton zoe"', False),  # a phrase never runs across two authors
        ("au:muller", True),  # accents and hyphenated names
        ("au:schmidt", True),
        ("au:reward", False),
        ("hinton", False),  # the default field is title + abstract
        ("cat:cs.CL", True),
        ("cat:CS.cl", True),
        ("cat:cs.AI", False),
        ("cat:cs", False),  # categories match whole, or by an explicit prefix
        ("cat:cs.*", True),
        ("cat:stat.*", True),
        ("cat:math.*", False),
        ('cat:"stat.ML"', True),
        ("cat:(cs.AI OR stat.ML)", True),
        ("cat:cs.LG reward", True),
        ("ti:reward au:hinton cat:cs.CL -abs:diffusion", True),
        # case, accents, plurals, hyphens, word boundaries, TeX and HTML
        ("rlhf", True),
        ("Sinkhorn", True),
        ("SÍNKHORN", True),
        ("model", True),
        ("models", True),
        ("query", True),
        ("queries", True),
        ("processes", True),
        ("process", True),
        ("benchmark", True),
        ("fine-tuning", True),
        ("fine tuning", True),
        ("finetuning", False),  # no stemming or joining beyond plurals and hyphens
        ('"fine-tuning"', True),
        ("RL", False),  # not RLHF, not URL
        ("URL", True),
        ("HF", False),
        ("align", False),  # aligning is not a plural: no stemming
        ("alpha-divergence", True),
        ('"alpha divergence"', True),
        ("divergence", True),
        ("large", True),
        ("i", False),  # the <i> tag is not a word
        ("3", True),
    ],
)
def test_language_table(query: str, expected: bool) -> None:
    assert matches(query) is expected
    assert bool(search(query, [PAPER])) is expected  # the index agrees with the reference


def test_is_trending_alone_and_with_words() -> None:
    hot = frozenset({PAPER.id})
    assert matches("is:trending", trending=hot)
    assert not matches("is:trending")
    assert matches("is:trending reward", trending=hot)
    assert not matches("is:trending diffusion", trending=hot)
    assert matches("ti:diffusion OR is:trending", trending=hot)
    assert evaluate("is:trending", PAPER, hot) == (Hit("trending", "trending", 0, 0),)


@pytest.mark.parametrize(
    "text, words",
    [
        ("Sch\\\"olkopf and Pi\\v{z}urica", ["scholkopf", "and", "pizurica"]),
        ("S{\\o}gaard S\\o{}gaard Søgaard", ["s", "o", "gaard", "s", "o", "gaard", "sogaard"]),
        ("caf&eacute;s &amp; <b>bold</b>", ["cafes", "bold"]),
        ("$\\mathbf{x}$-vector \\emph{words}", ["x", "vector", "words"]),
        ("ﬁne-tuning GPT-4o", ["fine", "tuning", "gpt", "4o"]),
        ("Ma\u0301laga", ["malaga"]),  # a decomposed accent stays inside its word
        ("snake_case", ["snake", "case"]),
    ],
)
def test_tokenizer_copes_with_markup(text: str, words: list[str]) -> None:
    assert [w for w, _, _ in tokenize(text)] == words


def test_tokens_keep_offsets_into_the_original() -> None:
    text = "Sch\\\"olkopf on <i>Sínkhorn</i> &amp; $\\alpha$-div"
    spans = {w: text[s:e] for w, s, e in tokenize(text)}
    assert spans == {"scholkopf": 'Sch\\"olkopf', "on": "on", "sinkhorn": "Sínkhorn", "alpha": "alpha", "div": "div"}


@pytest.mark.parametrize(
    "word, forms",
    [
        ("model", ("model",)),
        ("models", ("models", "model")),
        ("queries", ("queries", "query", "querie")),
        ("processes", ("processes", "processe", "process")),
        ("process", ("process",)),
        ("analysis", ("analysis",)),
        ("corpus", ("corpus",)),
        ("as", ("as",)),
    ],
)
def test_plural_keys(word: str, forms: tuple[str, ...]) -> None:
    assert keys(word) == forms


def test_hits_carry_spans_into_the_displayed_text() -> None:
    hits = evaluate('"reward model" alpha-divergence au:hinton cat:cs.LG', PAPER)
    assert hits is not None
    shown = {"title": PAPER.title, "abstract": PAPER.abstract,
             "authors": ", ".join(PAPER.authors), "categories": ", ".join(PAPER.categories)}
    assert [(h.term, h.field, shown[h.field][h.start:h.end]) for h in hits] == [
        ("reward model", "title", "Reward Models"),
        ("alpha-divergence", "abstract", "alpha$-divergence"),
        ("hinton", "authors", "Hinton"),
        ("cs.LG", "categories", "cs.LG"),
    ]


def test_exclusions_give_no_hits_and_or_gives_the_sides_that_matched() -> None:
    hits = evaluate("(RLHF OR DPO OR survey) -transformer", PAPER)
    assert hits is not None
    assert sorted({h.term for h in hits}) == ["RLHF", "survey"]


@pytest.mark.parametrize(
    "query, tree",
    [
        ("a b", And((Term("a", "a"), Term("b", "b")))),
        ("a OR b c", Or((Term("a", "a"), And((Term("b", "b"), Term("c", "c")))))),
        ("(a OR b) c", And((Or((Term("a", "a"), Term("b", "b"))), Term("c", "c")))),
        ("a -b NOT c", And((Term("a", "a"), Not(Term("b", "b")), Not(Term("c", "c"))))),
        ('"Reward  Models"', Phrase("Reward Models", ("reward", "models"))),
        ("fine-tuning", Phrase("fine-tuning", ("fine", "tuning"))),
        ("align*", Prefix("align*", "align")),
        ("ti:(a OR b)", Field("ti", Or((Term("a", "a"), Term("b", "b"))))),
        ("cat:cs.CL", Field("cat", Term("cs.CL", "cs.cl"))),
        ("cat:cs.*", Field("cat", Prefix("cs.*", "cs."))),
        ("is:trending", Trending()),
        ("((a))", Term("a", "a")),
        ("\u201creward model\u201d", Phrase("reward model", ("reward", "model"))),
    ],
)
def test_parse_trees(query: str, tree: object) -> None:
    assert parse_interest(query) == tree


@pytest.mark.parametrize(
    "query, message",
    [
        ('reward "model', "unclosed quote at column 8"),
        ("(a b", "unclosed '(' at column 1"),
        ("a(b", "unclosed '(' at column 2"),
        ("a b)", "unexpected ')' at column 4"),
        (")", "unexpected ')' at column 1"),
        ("()", "empty parentheses at column 1"),
        ('""', "empty quotes at column 1"),
        ("foo:bar", "unknown field 'foo:' (use ti:, abs:, au:, cat:, like: or is:trending) at column 1"),
        ("is:hot", "unknown 'is:hot' (the only one is is:trending) at column 1"),
        ("a OR", "OR needs a term on both sides at column 3"),
        ("OR a", "OR needs a term on both sides at column 1"),
        ("a OR OR b", "OR needs a term on both sides at column 3"),
        ("(a OR) b", "OR needs a term on both sides at column 4"),
        ("a AND", "AND needs a term on both sides at column 3"),
        ("ti: x", "'ti:' needs a word, a phrase or a group right after it at column 1"),
        ("x cat:", "'cat:' needs a word, a phrase or a group right after it at column 3"),
        ("ti:-survey x", "'ti:' needs a word, a phrase or a group right after it (to exclude, write -ti:survey) at column 1"),
        ("ti:(abs:x)", "'abs:' cannot be used inside 'ti:' at column 5"),
        ("x NOT", "NOT needs a term after it at column 3"),
        ("x -", "'-' needs a term right after it at column 3"),
        ("x --y", "a term cannot be excluded twice at column 4"),
        ("al*gn", "'*' can only end a word at column 3"),
        ("al*", "a prefix needs at least 3 letters before '*' at column 1"),
        ("fine-tun*", "'*' works on a single word, not 'fine-tun*' at column 1"),
        ("x +++", "'+++' has no letters or digits at column 3"),
        ("((((((((((((a))))))))))))", "parentheses nested too deeply at column 11"),
        ("-survey", "an interest needs at least one term that is not excluded"),
        ("NOT survey -review", "an interest needs at least one term that is not excluded"),
        ("rlhf OR -survey", "each side of OR needs a term to look for, not only exclusions"),
        ("", "the interest is empty"),
        ("   \t ", "the interest is empty"),
        ("x" * (MAX_INTEREST_CHARS + 1), f"an interest is limited to 300 characters (this one has {MAX_INTEREST_CHARS + 1})"),
        (" ".join(f"w{i}" for i in range(21)), "an interest is limited to 20 terms (this one has 21)"),
    ],
)
def test_malformed_queries(query: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_interest(query)
    assert str(info.value) == message


def test_search_reports_the_query_error() -> None:
    with pytest.raises(QueryError, match="unclosed quote at column 1"):
        search('"open', [PAPER])


def test_profile_lines_blank_lines_and_limits() -> None:
    lines = ["rlhf", "", "   ", "(a b", "reward model"]
    good, bad = parse_profile(lines)
    assert [(n, text) for n, text, _ in good] == [(1, "rlhf"), (5, "reward model")]
    assert [(n, str(e)) for n, e in bad] == [(4, "unclosed '(' at column 1")]
    assert [(n, str(e)) for n, e in check_interests(lines)] == [(4, "unclosed '(' at column 1")]
    assert [(n, str(e)) for n, e in check_interests(["  (a"])] == [(1, "unclosed '(' at column 3")]
    assert check_interests(["", "ok"]) == []

    many = [f"word{i}" for i in range(MAX_INTERESTS + 2)]
    assert [(n, str(e)) for n, e in check_interests(many)] == [
        (MAX_INTERESTS + 1, f"a profile is limited to {MAX_INTERESTS} interests"),
        (MAX_INTERESTS + 2, f"a profile is limited to {MAX_INTERESTS} interests"),
    ]
    wide = [" ".join(f"t{i}x{j}" for j in range(20)) for i in range(10)]
    errors = check_interests(wide)
    assert errors and errors[0][0] == MAX_TERMS_PER_PROFILE // 20 + 1
    assert str(errors[0][1]) == f"a profile is limited to {MAX_TERMS_PER_PROFILE} terms in all (this line brings it to 160)"


# --- look-alike characters -------------------------------------------------------------------------------

@pytest.mark.parametrize("dash", sorted(DASHES))
def test_every_dash_look_alike_excludes_as_the_hyphen_minus_does(dash: str) -> None:
    assert parse_interest(f"reward {dash}survey") == parse_interest("reward -survey")
    assert parse_interest(f"{dash}ti:survey reward") == parse_interest("-ti:survey reward")
    assert matches(f"reward {dash}rlhf") is False and matches(f"reward {dash}transformer") is True
    assert bool(search(f"reward {dash}rlhf", [PAPER])) is False  # the index agrees
    assert any("is read as '-'" in w for w in interest_warnings(f"reward {dash}survey"))
    assert interest_warnings(f"fine{dash}tuning") == []  # inside a word a dash is a hyphen, as '-' is


@pytest.mark.parametrize("query, fragment", [
    ("RLHF ОR DPO", "looks like the operator OR"),  # Cyrillic О
    ("RLHF ΟR DPO", "looks like the operator OR"),  # Greek Ο
    ("reward ＮＯＴ survey", "looks like the operator NOT"),  # fullwidth
    ("mоdel alignment", "mixes Latin and Cyrillic letters"),
    ("（RLHF OR DPO）", "fullwidth left parenthesis"),
    ("\uff02reward model\uff02", "is not read as \""),
    ("re\u200bward model", "invisible character"),
])
def test_interest_warnings_name_what_is_not_what_it_seems(query: str, fragment: str) -> None:
    warnings = interest_warnings(query)
    assert any(fragment in w for w in warnings), warnings
    assert all(w.startswith("column ") for w in warnings)


@pytest.mark.parametrize("query", ["reward model", "(RLHF OR DPO) -survey", 'au:"Zoë Müller"', "Sínkhorn", "大規模言語モデル",
                                   "α-divergence", '"ОR"'])
def test_ordinary_interests_get_no_operator_warning(query: str) -> None:
    assert [w for w in interest_warnings(query) if "operator" in w or "read as '-'" in w] == []


plain_word = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(plain_word, st.sampled_from(["OR", "AND", "NOT", "or", "x" * 301])), min_size=1, max_size=22))
def test_the_plain_words_shortcut_gives_what_the_parser_gives(parts: list[str]) -> None:
    line = " ".join(parts)
    shortcut = _plain_words(line)
    try:
        general = _parse_general(line)
    except QueryError:
        assert shortcut is None
        return
    assert shortcut is None or shortcut == general


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["reward", "model", "-survey", "-rlhf", "(RLHF OR DPO)", "ti:models", '"language models"',
                                 "-au:hinton", "align*"]), min_size=1, max_size=5), st.sampled_from(sorted(DASHES)))
def test_swapping_hyphens_for_look_alikes_changes_no_answer(parts: list[str], dash: str) -> None:
    query = " ".join(parts)
    lookalike = query.replace("-", dash)
    try:
        tree = parse_interest(query)
    except QueryError:
        with pytest.raises(QueryError):
            parse_interest(lookalike)
        return
    assert parse_interest(lookalike) == tree
    assert (evaluate(lookalike, PAPER) is None) is (evaluate(query, PAPER) is None)
    assert bool(search(lookalike, [PAPER])) is (evaluate(query, PAPER) is not None)  # index == reference
