"""Canonical arXiv ids (every form, versions apart) and stable ids for other feeds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ids import canonical_arxiv_id, find_arxiv_id, find_doi, stable_id


@pytest.mark.parametrize("raw, expected", [
    ("oai:arXiv.org:2508.13426v1", ("arxiv:2508.13426", 1)),
    ("http://arxiv.org/abs/hep-th/9901001v2", ("arxiv:hep-th/9901001", 2)),
    ("2401.12345v3", ("arxiv:2401.12345", 3)),
    ("arXiv:2401.12345", ("arxiv:2401.12345", None)),
    ("https://arxiv.org/pdf/2401.12345v2.pdf", ("arxiv:2401.12345", 2)),
    ("https://arxiv.org/pdf/2202.12139v1", ("arxiv:2202.12139", 1)),
    ("https://export.arxiv.org/abs/0704.0001", ("arxiv:0704.0001", None)),
    ("https://arxiv.org/abs/math.AG/0601001v1", ("arxiv:math.AG/0601001", 1)),
    ("https://doi.org/10.48550/arXiv.2401.12345", ("arxiv:2401.12345", None)),
    ("https://huggingface.co/papers/2410.17243", ("arxiv:2410.17243", None)),
    ("  arxiv:cond-mat/0501001v12 ", ("arxiv:cond-mat/0501001", 12)),
])
def test_canonical_forms(raw, expected):
    assert canonical_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "hello", "2401.123", "https://example.org/abs/2401.12345", "arxiv:cs.CL",
                                 "12401.12345", "hep-th/99010011"])
def test_not_arxiv_ids_are_refused(raw):
    assert find_arxiv_id(raw) is None
    with pytest.raises(ValueError):
        canonical_arxiv_id(raw)


new_style = st.builds(lambda yymm, n, width: f"{yymm:04d}.{n:0{width}d}",
                      st.integers(701, 2912), st.integers(1, 9999), st.sampled_from([4, 5]))
old_style = st.builds(lambda archive, subj, n: f"{archive}{subj}/{n:07d}",
                      st.sampled_from(["hep-th", "math", "cond-mat", "astro-ph", "q-bio", "cs", "math-ph"]),
                      st.sampled_from(["", ".AG", ".CO", ".NC"]), st.integers(9101001, 9912999))
any_id = st.one_of(new_style, old_style)
versions = st.one_of(st.none(), st.integers(1, 40))
forms = st.sampled_from(["{id}{v}", "arXiv:{id}{v}", "oai:arXiv.org:{id}{v}", "http://arxiv.org/abs/{id}{v}",
                         "https://arxiv.org/pdf/{id}{v}.pdf", "https://export.arxiv.org/abs/{id}{v}"])


def _render(form: str, ident: str, version: int | None) -> str:
    return form.format(id=ident, v=f"v{version}" if version else "")


@given(any_id, versions, forms)
def test_normalisation_is_idempotent(ident, version, form):
    canonical, found_version = canonical_arxiv_id(_render(form, ident, version))
    assert canonical == f"arxiv:{ident}"
    assert found_version == version
    assert canonical_arxiv_id(canonical) == (canonical, None)


@given(any_id, st.integers(1, 40), st.integers(1, 40), forms, forms)
def test_versions_kept_apart_from_the_id(ident, v1, v2, form1, form2):
    first = canonical_arxiv_id(_render(form1, ident, v1))
    second = canonical_arxiv_id(_render(form2, ident, v2))
    assert first[0] == second[0]
    assert (first[1] == second[1]) == (v1 == v2)


@given(any_id, any_id)
def test_different_papers_never_share_an_id(a, b):
    assert (canonical_arxiv_id(a)[0] == canonical_arxiv_id(b)[0]) == (a == b)


def test_stable_id_prefers_doi_then_link():
    assert stable_id("https://doi.org/10.1038/S41586-024-07000-1") == "doi:10.1038/s41586-024-07000-1"
    assert stable_id("https://www.biorxiv.org/content/10.1101/2024.01.05.574321v2?rss=1") == \
        "doi:10.1101/2024.01.05.574321"
    assert stable_id("HTTP://Example.org/posts/42/?utm_source=rss#top") == "url:https://example.org/posts/42"
    assert stable_id("http://arxiv.org/abs/2401.12345v2") == "arxiv:2401.12345"


def test_stable_id_of_an_opaque_guid_is_a_hash_never_an_arxiv_id():
    one = stable_id("tag:blog.example.org,2024:post-7")
    assert one.startswith("guid:") and one == stable_id("tag:blog.example.org,2024:post-7")
    assert one != stable_id("tag:blog.example.org,2024:post-8")


def test_find_doi_trims_sentence_punctuation():
    assert find_doi("published as doi:10.5802/jep.257.") == "10.5802/jep.257"
    assert find_doi("no doi here") is None
