"""`paperpost sources ...`, `paperpost poll` and `papers --json`, in-process against feeds on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from feedserver import running_server

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = (FIXTURES / "arxiv_rss_atom_new_format.xml").read_bytes()
HF = (FIXTURES / "hf_daily_papers.json").read_bytes()
BLOG = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Lab blog</title>'
        b'<link>https://lab.example.org/</link><description>posts</description><item><title>A post</title>'
        b'<link>https://lab.example.org/1</link><guid>https://lab.example.org/1</guid></item></channel></rss>')


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv



def json_rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sources_by_name(run) -> dict[str, dict]:
    code, out, _ = run("sources", "list", "--json")
    assert code == 0
    return {row["name"]: row for row in json_rows(out)}


def test_shortcuts_expand_to_arxiv_and_hugging_face_sources(run):
    for shortcut in ("arxiv:cs.CL", "arxiv:cs.CL+cs.LG", "hf:daily"):
        assert run("sources", "add", shortcut)[0] == 0
    rows = sources_by_name(run)
    assert {name: (row["url"], row["kind"]) for name, row in rows.items()} == {
        "arxiv-cs.cl": ("https://rss.arxiv.org/atom/cs.CL", "arxiv"),
        "arxiv-cs.cl+cs.lg": ("https://rss.arxiv.org/atom/cs.CL+cs.LG", "arxiv"),
        "hf-daily": ("https://huggingface.co/api/daily_papers", "hf"),
    }
    row = rows["hf-daily"]
    assert (row["active"], row["last_polled"], row["last_error"], row["failures"]) == (True, None, None, 0)


def test_auto_kind_reads_the_body_of_a_local_url(run, server):
    server.route("/cli/arxiv", body=ATOM)
    server.route("/cli/hf", body=HF)
    server.route("/cli/blog", body=BLOG)
    assert run("sources", "add", server.url("/cli/arxiv"), "--name", "local-arxiv")[0] == 0
    assert run("sources", "add", server.url("/cli/hf"), "--name", "local-hf")[0] == 0
    assert run("sources", "add", server.url("/cli/blog"))[0] == 0
    assert run("sources", "add", server.url("/cli/arxiv"), "--name", "forced", "--kind", "rss")[0] == 0
    kinds = {name: row["kind"] for name, row in sources_by_name(run).items()}
    assert kinds == {"local-arxiv": "arxiv", "local-hf": "hf", "127.0.0.1-blog": "rss", "forced": "rss"}


def test_auto_kind_on_an_unreachable_url_says_what_to_do(run):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = run("sources", "add", f"http://127.0.0.1:{port}/feed")
    assert code == 1 and out == ""
    assert err.startswith("Error: could not fetch") and "--kind" in err and err.count("\n") == 1
    assert sources_by_name(run) == {}


@pytest.mark.parametrize("args, says", [
    (("sources", "remove", "nope"), "No source named 'nope'"),
    (("poll", "--source", "nope"), "No source named 'nope'"),
    (("sources", "enable", "nope"), "No source named 'nope'"),
    (("sources", "add", "not a url"), "neither a URL nor a shortcut"),
])
def test_errors_are_one_sentence_on_stderr_with_exit_code_1(run, args, says):
    code, out, err = run(*args)
    assert code == 1 and out == ""
    assert err.startswith("Error: ") and says in err and err.count("\n") == 1


def test_a_duplicate_name_is_refused(run):
    assert run("sources", "add", "hf:daily")[0] == 0
    code, _, err = run("sources", "add", "hf:daily")
    assert code == 1 and "exists already" in err


def test_poll_reports_each_source_and_papers_json_carries_the_merged_fields(run, server):
    items = json.loads(HF)
    items[0]["paper"]["id"] = "2508.13167"  # the Hugging Face copy of the arXiv feed's first paper
    server.route("/poll/atom", body=ATOM, etag='"a1"')
    server.route("/poll/hf", body=json.dumps(items).encode())
    server.route("/poll/down", status=500, body=b"oops")
    run("sources", "add", server.url("/poll/atom"), "--name", "a-arxiv")
    run("sources", "add", server.url("/poll/hf"), "--name", "b-hf", "--kind", "hf")
    run("sources", "add", server.url("/poll/down"), "--name", "c-down", "--kind", "rss")

    code, out, err = run("poll")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("a-arxiv: 86 new, 0 updated, 0 known (")
    assert lines[1].startswith("b-hf: 1 new, 1 updated, 0 known (")  # the shared paper got its upvotes
    assert lines[2].startswith("c-down: failed (") and "HTTP 500" in lines[3]

    rows = sources_by_name(run)
    assert rows["c-down"]["failures"] == 1 and "HTTP 500" in rows["c-down"]["last_error"]
    assert rows["a-arxiv"]["last_polled"] and rows["a-arxiv"]["last_error"] is None

    code, out, _ = run("papers", "--json")
    papers = {row["id"]: row for row in json_rows(out)}
    assert code == 0 and len(papers) == 87
    merged = papers["arxiv:2508.13167"]
    assert (merged["version"], merged["announce_type"], merged["sources"]) == (1, "new", ["a-arxiv", "b-hf"])
    assert merged["upvotes"] == items[0]["paper"]["upvotes"]
    only_arxiv = papers["arxiv:2508.13171"]
    assert (only_arxiv["upvotes"], only_arxiv["sources"], only_arxiv["version"]) == (None, ["a-arxiv"], 1)
    assert papers["arxiv:2410.16251"]["announce_type"] is None  # Hugging Face gives no announce type

    code, out, _ = run("poll", "--source", "a-arxiv", "--json")
    (report,) = json_rows(out)
    assert code == 0 and (report["source"], report["status"], report["new"]) == ("a-arxiv", "not_modified", 0)


def test_a_gone_source_is_switched_off_and_can_be_enabled_again(run, server):
    server.route("/cli/gone", status=410)
    run("sources", "add", server.url("/cli/gone"), "--name", "gone", "--kind", "rss")
    code, out, _ = run("poll")
    assert code == 0 and out.startswith("gone: gone (HTTP 410), switched off")
    assert sources_by_name(run)["gone"]["active"] is False
    code, out, _ = run("poll")
    assert "No active sources" in out
    assert run("sources", "enable", "gone")[0] == 0
    assert sources_by_name(run)["gone"]["active"] is True
    assert run("sources", "remove", "gone")[0] == 0
    assert sources_by_name(run) == {}
