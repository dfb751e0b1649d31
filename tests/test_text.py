"""Display cleaning: whitespace, TeX accents and math, HTML, mojibake, author splitting."""

import pytest

from bot.text import clean_text, collapse_whitespace, repair_mojibake, split_authors, strip_html, tex_to_text


def test_whitespace_collapses_newlines_tabs_and_nbsp():
    assert collapse_whitespace("  Breaking the\n  Memory\tBarrier\u00a0now ") == "Breaking the Memory Barrier now"


@pytest.mark.parametrize("tex, text", [
    (r"Andr\'e", "André"),
    (r"Pi\v{z}urica", "Pižurica"),
    (r"S{\o}gaard", "Søgaard"),
    (r"Kra{\ss}", "Kraß"),
    (r"J\"org Deigm\"oller", "Jörg Deigmöller"),
    (r"Jakub\r{u}v", "Jakubův"),
    (r"In\`es", "Inès"),
])
def test_tex_accents_become_unicode(tex, text):
    assert tex_to_text(tex) == text


def test_math_is_kept_readable_without_dollars():
    assert clean_text(r"the $\alpha$-divergence and $\log n$ steps") == "the α-divergence and log n steps"
    assert clean_text(r"$\min \int_{\mathbb{R}^N}f$") == "min ∫_ℝ^Nf"


def test_prices_and_percent_are_not_tex():
    assert clean_text(r"costs $5 and $10, 50% of cases \& more") == "costs $5 and $10, 50% of cases & more"


@pytest.mark.parametrize("bad", [r"{unclosed \emph{x", r"$\frac{a}{$", "\\", r"\begin{itemize} \item", "$$", r"a $b"])
def test_bad_tex_never_crashes(bad):
    assert isinstance(clean_text(bad), str)


def test_html_tags_stripped_and_entities_decoded():
    assert clean_text("<p>Graphs &amp; <b>nets</b>&nbsp;&lt;3</p><script>x()</script>") == "Graphs & nets <3"
    assert strip_html("no markup") == "no markup"


def test_mojibake_repaired_only_when_it_is_mojibake():
    assert repair_mojibake("Aurora RamÃ\xadrez") == "Aurora Ramírez"
    assert repair_mojibake("São Paulo, Ørsted") == "São Paulo, Ørsted"


@pytest.mark.parametrize("creator, names", [
    ("Antonin Monteil, Paul Pegon", ("Antonin Monteil", "Paul Pegon")),
    ("A. One, B. Two and C. Three", ("A. One", "B. Two", "C. Three")),
    ("A. One and B. Two", ("A. One", "B. Two")),
    ("John Smith (MIT, Cambridge), Jane Doe (Stanford (CS))", ("John Smith", "Jane Doe")),
    (r"Nikola Pi\v{z}urica, Anders S{\o}gaard", ("Nikola Pižurica", "Anders Søgaard")),
    ("Martin King, Jr., Alexander Andersson", ("Martin King, Jr.", "Alexander Andersson")),
    ('<a href="http://arxiv.org/find/x">Shu-Sheng Xu</a>, <a href="y">Lei Chang</a> (STAR Collaboration)',
     ("Shu-Sheng Xu", "Lei Chang")),
    ("", ()),
])
def test_split_authors(creator, names):
    assert split_authors(creator) == names
