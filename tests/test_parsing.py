"""Parsers on real feed samples (tests/fixtures) and on the faults made from them."""

import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.ids import canonical_arxiv_id
from bot.sources.parsing import detect_kind, expand_shortcut, parse_feed

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = (FIXTURES / "arxiv_rss_atom_new_format.xml").read_bytes()
API = (FIXTURES / "arxiv_api_atom.xml").read_bytes()
HF = (FIXTURES / "hf_daily_papers.json").read_bytes()
RDF = (FIXTURES / "arxiv_rss_old_rdf.xml").read_bytes()
RSS2 = (FIXTURES / "arxiv_rss2_docs_example.xml").read_bytes()
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Rate limited</title></head><body><p>Try later</p></body></html>"


def test_arxiv_atom_feed_gives_86_clean_papers():
    result = parse_feed("arxiv", ATOM)
    assert (result.error, result.complete, len(result.papers)) == (None, True, 86)
    assert all(re.fullmatch(r"arxiv:\d{4}\.\d{5}", p.id) for p in result.papers)
    assert len({p.id for p in result.papers}) == 86
    assert Counter(p.announce_type for p in result.papers) == {"new": 41, "cross": 45}
    assert all(p.version == 1 for p in result.papers)
    assert all(p.authors and all("," not in a and "\\" not in a for a in p.authors) for p in result.papers)
    assert not any(p.abstract.startswith(("arXiv:", "Announce")) for p in result.papers)
    by_id = {p.id: p for p in result.papers}
    first = by_id["arxiv:2508.13167"]
    assert first.authors[:2] == ("Weizhen Li", "Jianbo Lin") and len(first.authors) == 30
    assert first.categories == ("cs.AI", "cs.CL")
    assert first.published == datetime(2025, 8, 20, 4, 0, tzinfo=timezone.utc)
    assert first.links == {"abs": "https://arxiv.org/abs/2508.13167", "pdf": "https://arxiv.org/pdf/2508.13167"}
    names = {a for p in result.papers for a in p.authors}
    assert {"Nikola Pižurica", "Anders Søgaard", "Paulo André Lima de Castro", "Mikoláš Janota"} <= names


def test_arxiv_rss2_flavour_with_replace_cross_doi_and_journal_ref():
    (paper,) = parse_feed("arxiv", RSS2).papers
    assert (paper.id, paper.version, paper.announce_type) == ("arxiv:2203.01250", 3, "replace-cross")
    assert paper.authors == ("Antonin Monteil", "Paul Pegon")
    assert paper.doi == "10.5802/jep.257" and paper.links["doi"] == "https://doi.org/10.5802/jep.257"
    assert paper.journal_ref.startswith("Journal de l'École polytechnique - Mathématiques")
    assert "$" not in paper.abstract and "α-masses" in paper.abstract


def test_arxiv_api_gives_full_authors_primary_category_versions_and_doi():
    result = parse_feed("arxiv-api", API)
    assert (result.error, len(result.papers)) == (None, 10)
    by_id = {p.id: p for p in result.papers}
    first = by_id["arxiv:2202.12139"]
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")  # not only the last one
    assert first.primary_category == "cs.SE" and first.categories == ("cs.SE", "cs.LG")
    assert first.doi == "10.1109/icstw55395.2022.00035"
    assert first.journal_ref.startswith("Artificial Intelligence in Software Testing")
    assert by_id["arxiv:2204.08348"].version == 3
    v2 = by_id["arxiv:2005.14124"]
    assert v2.version == 2 and v2.published < v2.updated
    assert by_id["arxiv:2405.13786"].authors[0] == "Aurora Ramírez"
    assert all(p.primary_category for p in result.papers)


def test_arxiv_api_error_feed_is_an_error_without_papers():
    body = (b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            b'<id>http://arxiv.org/api/errors</id><title>arXiv Query: search_query=&amp;id_list=1234.12345</title>'
            b'<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id><title>Error</title>'
            b'<summary>incorrect id format for 1234.12345</summary></entry></feed>')
    result = parse_feed("arxiv-api", body)
    assert result.papers == [] and not result.complete
    assert result.error == "the arXiv API answered an error: incorrect id format for 1234.12345"


def test_hf_daily_gives_upvotes_thumbnails_and_one_id_with_arxiv():
    result = parse_feed("hf", HF)
    assert result.error is None and [p.upvotes for p in result.papers] == [64, 41]
    paper = result.papers[0]
    # the id the arXiv feeds give the same paper: one paper, one id
    assert paper.id == "arxiv:2410.17243" == canonical_arxiv_id("oai:arXiv.org:2410.17243v1")[0]
    assert paper.title == "Breaking the Memory Barrier: Near Infinite Batch Size Scaling for Contrastive Loss"
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.17243.png"
    assert paper.links["hf"] == "https://huggingface.co/papers/2410.17243"
    assert paper.links["pdf"] == "https://arxiv.org/pdf/2410.17243"
    assert len(paper.authors) == 9 and "\n" not in paper.abstract


def test_hf_optional_fields_and_non_arxiv_ids():
    body = (b'[{"paper": {"id": "2501.00001", "title": "Minimal"}},'
            b' {"paper": {"id": "acme-report-7", "title": "Tech report", "upvotes": 3,'
            b' "githubRepo": "https://github.com/acme/r", "ai_summary": "x"}},'
            b' {"paper": {"title": "no id"}}]')
    result = parse_feed("hf", body)
    assert [p.id for p in result.papers] == ["arxiv:2501.00001", "hf:acme-report-7"]
    assert result.papers[0].upvotes is None and result.papers[0].authors == ()
    # huggingface.co/papers/ pages exist only for arXiv ids: no hf link for the others
    assert result.papers[1].links == {"code": "https://github.com/acme/r"}
    assert "skipped" in result.error and not result.complete


def test_hf_truncated_json_keeps_complete_items():
    cut = HF[: HF.index(b'{"paper"', 10) + 500]
    result = parse_feed("hf", cut)
    assert [p.id for p in result.papers] == ["arxiv:2410.17243"]
    assert result.error and not result.complete


def test_old_rdf_feed_title_suffix_html_authors_and_types():
    result = parse_feed("arxiv", RDF)
    assert result.error is None
    assert [(p.id, p.version, p.announce_type) for p in result.papers] == [
        ("arxiv:1805.08875", 1, "new"), ("arxiv:1805.09166", 1, "cross"), ("arxiv:1805.06430", 2, "replace")]
    first, _, third = result.papers
    assert first.title == "Measurement of Transverse Single Spin Asymmetries"
    assert first.authors == ("Christopher Dilks",)
    assert "2.6<η<4" in first.abstract and "<p>" not in first.abstract
    assert third.authors[-1] == "Hong-Shi Zong" and len(third.authors) == 6
    assert third.primary_category == "nucl-th"


def test_generic_parser_reads_arxiv_feeds_with_the_same_ids():
    assert [p.id for p in parse_feed("rss", RDF).papers] == [p.id for p in parse_feed("arxiv", RDF).papers]
    assert len(parse_feed("rss", ATOM).papers) == 86


@pytest.mark.parametrize("kind", ["arxiv", "rss"])
def test_malformed_xml_keeps_what_parsed_and_flags_it(kind):
    broken = ATOM.replace(b"</title>", b"</titel>", 4)
    result = parse_feed(kind, broken)
    assert result.error and "not well-formed" in result.error and not result.complete
    assert 0 < len(result.papers) < 86


@pytest.mark.parametrize("kind", ["arxiv", "arxiv-api", "rss"])
def test_truncated_feed_keeps_only_complete_entries(kind):
    body = ATOM if kind != "arxiv-api" else API
    cut = body[: body.index(b"<summary>", len(body) // 2) + 40]  # inside an entry's abstract
    result = parse_feed(kind, cut)
    assert len(result.papers) == cut.count(b"</entry>") > 0
    assert all(p.abstract for p in result.papers)
    assert result.error and not result.complete


@pytest.mark.parametrize("kind", ["arxiv", "arxiv-api", "rss", "hf"])
def test_html_page_is_an_error_with_no_papers(kind):
    result = parse_feed(kind, HTML_PAGE)
    assert result.papers == [] and result.error and not result.complete


@pytest.mark.parametrize("kind, body", [
    ("arxiv", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><id>x</id>'
              b'<title>cs.AI updates on arXiv.org</title></feed>'),
    ("rss", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'),
    ("hf", b"[]"),
])
def test_empty_feed_is_fine(kind, body):
    result = parse_feed(kind, body)
    assert (result.papers, result.error, result.complete) == ([], None, True)


def test_empty_body_is_an_error():
    assert parse_feed("rss", b"").error


def test_declared_non_utf8_encoding_is_honoured():
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Revue</title>'
            '<item><title>Étude des réseaux</title><link>https://revue.example.org/a/1?utm_source=rss</link>'
            '<description>&lt;p&gt;Résumé: coût $5&lt;/p&gt;</description><author>José Ramírez</author>'
            '</item></channel></rss>').encode("latin-1")
    (paper,) = parse_feed("rss", body).papers
    assert (paper.title, paper.abstract, paper.authors) == ("Étude des réseaux", "Résumé: coût $5", ("José Ramírez",))
    assert paper.id == "url:https://revue.example.org/a/1"


def test_generic_feed_uses_doi_from_prism_or_link():
    body = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns="http://purl.org/rss/1.0/" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="x"><title>J</title></channel>'
            b'<item rdf:about="https://journal.example.org/article/77"><title>Article</title>'
            b'<link>https://journal.example.org/article/77</link><prism:doi>10.1000/XYZ.77</prism:doi>'
            b'<dc:creator>A. One</dc:creator><dc:creator>B. Two</dc:creator></item></rdf:RDF>')
    (paper,) = parse_feed("rss", body).papers
    assert (paper.id, paper.doi, paper.authors) == ("doi:10.1000/xyz.77", "10.1000/xyz.77", ("A. One", "B. Two"))


@pytest.mark.parametrize("url, body, kind", [
    ("https://rss.arxiv.org/atom/cs.AI", None, "arxiv"),
    ("http://rss.arxiv.org/rss/cs.CL+cs.LG", None, "arxiv"),
    ("http://export.arxiv.org/rss/hep-ex", None, "arxiv"),
    ("http://export.arxiv.org/api/query?search_query=all:testing", None, "arxiv-api"),
    ("https://huggingface.co/api/daily_papers?date=2024-10-25", None, "hf"),
    ("https://www.nature.com/nature.rss", None, "rss"),
    ("http://127.0.0.1:8000/feed", ATOM, "arxiv"),
    ("http://127.0.0.1:8000/feed", RSS2, "arxiv"),
    ("file:///seeds/papers.json", HF, "hf"),
    ("http://127.0.0.1:8000/api", API, "arxiv-api"),
    ("http://127.0.0.1:8000/blog", b'<rss version="2.0"><channel></channel></rss>', "rss"),
])
def test_detect_kind(url, body, kind):
    assert detect_kind(url, body) == kind


def test_expand_shortcut():
    assert expand_shortcut("arxiv:cs.CL") == ("https://rss.arxiv.org/atom/cs.CL", "arxiv")
    assert expand_shortcut("arxiv:cs.CL+cs.LG") == ("https://rss.arxiv.org/atom/cs.CL+cs.LG", "arxiv")
    assert expand_shortcut("hf:daily") == ("https://huggingface.co/api/daily_papers", "hf")
    assert expand_shortcut("arxiv:2401.12345") is None
    assert expand_shortcut("https://example.org/feed") is None


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown source kind"):
        parse_feed("atom", ATOM)
