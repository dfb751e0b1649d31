"""Hostile subscriber files: `subscribers import` never aborts on a row, and export never hands out a formula.

Classes closed here, through the real CLI (`main()` in this process, and a subprocess where a
traceback would show):
- any bad value in any field of any row is that row's error, with its line; the good rows are
  imported (hand-picked values that crashed before, and hypothesis-made rows in CSV and TOML);
- nothing stored that cannot be used: a stored zone is a real zone, hour 0-23, weekday 0-6,
  a chat id ASCII digits;
- a file that cannot be read at all gets one sentence on stderr and exit code 1;
- export escapes every formula-like cell, and import reads the export back unchanged;
- look-alike characters in interests are reported where interests are entered.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscribers.importer import escape_cell, iter_subscriber_batches, read_subscribers_file, unescape_cell

ZONES = available_timezones()



def people(run) -> list[dict]:
    code, out, _ = run("subscribers", "list", "--json")
    assert code == 0
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def reported_lines(err: str, path: Path) -> list[int]:
    return [int(n) for n in re.findall(rf"^{re.escape(str(path))}:(\d+): (?!warning)", err, flags=re.MULTILINE)]


def sendable(person: dict) -> bool:
    chat = person["telegram"]
    return (person["tz"] in ZONES and 0 <= person["hour"] <= 23 and 0 <= person["weekday"] <= 6
            and (chat is None or re.fullmatch(r"-?[0-9]+", chat) is not None))


def test_bad_csv_rows_are_reported_by_line_and_the_good_ones_imported(run, tmp_path):
    path = tmp_path / "hostile.csv"
    lines = [
        "email,interests,frequency,weekday,hour,tz,telegram",
        "good1@example.org,reward model,daily,,7,UTC,",  # 2
        "a@example.org,x,weekly,²,7,UTC,",  # 3: a superscript digit is a digit to str.isdigit
        f"b@example.org,x,weekly,{'9' * 5000},7,UTC,",  # 4: past int()'s digit limit
        "c@example.org,x,daily,,7,America,",  # 5: a folder of zones
        f"d@example.org,x,daily,,7,{'Europe/' * 43},",  # 6: a 300-character zone
        "e@example.org,x,daily,,²,UTC,",  # 7
        "f@example.org,x,daily,,7,UTC,²",  # 8: a chat id that is no number
        f"g@example.org,{'x' * 140_000},daily,,7,UTC,",  # 9: over the csv module's field limit
        "good2@example.org,\"quoted\nover two lines\",daily,,7,Europe/Berlin,",  # 10-11
        "h@example.org,x,daily,,7,../../etc/passwd,",  # 12
        "i@example.org,x\x00y,daily,,7,UTC,",  # 13: a NUL (PostgreSQL cannot store it)
        "good3@example.org,diffusion,weekly,friday,23,Asia/Tokyo,-100123",  # 14
    ]
    data = "\n".join(lines).encode() + b"\nj@example.org,caf\xe9,daily,,7,UTC,\n"  # 15: not UTF-8
    path.write_bytes(data)
    code, out, err = run("subscribers", "import", str(path))
    assert code == 1 and "Traceback" not in err
    assert reported_lines(err, path) == [3, 4, 5, 6, 7, 8, 9, 12, 13, 15]
    stored = {p["email"]: p for p in people(run)}
    assert {"good1@example.org", "good2@example.org", "good3@example.org"} <= set(stored)
    assert not {"a@example.org", "b@example.org", "c@example.org", "g@example.org", "j@example.org"} & set(stored)
    assert all(sendable(p) for p in stored.values())
    assert "3 added" in out and "10 rejected" in out


def test_bad_toml_tables_are_reported_by_line_and_the_good_ones_imported(run, tmp_path):
    path = tmp_path / "hostile.toml"
    path.write_text(
        '[[subscriber]]\nemail = "good1@example.org"\ninterests = ["reward model"]\n\n'  # 1
        '[[subscriber]]\nemail = "a@example.org"\ninterests = 7\n\n'  # 5
        '[[subscriber]]\nemail = 7\ninterests = ["x"]\n\n'  # 9
        '[[subscriber]]\nemail = "b@example.org"\ninterests = ["x"]\nweekday = true\nhour = [1]\n\n'  # 13
        '[[subscriber]]\nemail = "c@example.org"\ninterests = ["x"]\ntz = "America"\n\n'  # 19
        '[[subscriber]]\nemail = "d@example.org"\ninterests = ' + "[" * 100_000 + '\n\n'  # 24: RecursionError
        '[[subscriber]]\nemail = "good2@example.org"\ninterests = "diffusion ; ti:robot"\nweekday = 4\n\n'  # 27
        '[[subscriber]]\nemail = "e@example.org"\ninterests = ["x", {a = 1}]\n\n'  # 33
        '[[subscriber]]\nemail = "f@example.org"\ninterests = ["x"]\nhour = 1' + "0" * 5000 + '\n',  # 37
        encoding="utf-8")
    code, out, err = run("subscribers", "import", str(path))
    assert code == 1 and "Traceback" not in err
    assert reported_lines(err, path) == [5, 9, 13, 19, 24, 33, 37]
    assert "nested too deeply" in err and "interests: must be a list" in err
    assert sorted(p["email"] for p in people(run)) == ["good1@example.org", "good2@example.org"]
    assert "2 added" in out and "7 rejected" in out


@pytest.mark.parametrize("name, content", [
    ("missing.csv", None),
    ("folder.csv", "DIR"),
    ("empty.csv", b""),
    ("image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"),
    ("utf16.csv", "email,interests\na@example.org,x\n".encode("utf-16")),
    ("no-columns.csv", b"name,topics\nada,x\n"),
    ("broken.toml", b"this is = = not toml [[\n"),
    ("deep.toml", b"x = " + b"[" * 100_000),
    ("latin1.toml", '[[subscriber]]\nemail = "zoë@example.org"\n'.encode("latin-1")),
    ("nothing.toml", b'title = "no subscribers here"\n'),
])
def test_a_file_that_cannot_be_read_gets_one_sentence(env, tmp_path, name, content):
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    done = subprocess.run([sys.executable, "-m", "bot", "subscribers", "import", str(path)], env={**env, "PATH": ""},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(path) in lines[0], done.stderr


def test_a_large_file_streams_in_batches_in_line_order(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("email,interests\n" + "".join(f"p{n}@example.org,topic {n}\n" for n in range(1, 2501))
                    + "bad,x\n", encoding="utf-8")
    batches = list(iter_subscriber_batches(path, size=1000))
    assert [len(b.rows) + len(b.errors) for b in batches] == [1000, 1000, 501]
    lines = [row.line for b in batches for row in b.rows]
    assert lines == list(range(2, 2502)) and [e.line for e in batches[-1].errors] == [2502]


# --- hypothesis: any values in any row ------------------------------------------------------------------

cell = st.one_of(st.text(max_size=30), st.sampled_from(["²", "٣", "America", "UTC", "Europe/Berlin", "7", "-1", "24",
                                                          "monday", "0x10", "1e3", " 5 ", "9" * 4400, "-100123",
                                                          "=cmd|' /C calc'!A0", "'-x", "NaN"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cell, cell, cell, cell, cell, cell), min_size=1, max_size=8))
def test_any_csv_rows_give_rows_or_line_errors_never_an_exception(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("gen") / "gen.csv"
    with path.open("w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interests", "email", "weekday", "hour", "tz", "telegram"])
        for n, record in enumerate(records):
            writer.writerow([record[0] or "x", f"p{n}@example.org", *record[2:]])
    expected_lines = _record_lines(path)
    rows, errors = read_subscribers_file(path)
    assert sorted([r.line for r in rows] + [e.line for e in errors]) == expected_lines
    for row in rows:
        s = row.subscriber
        assert s.tz in ZONES and 0 <= s.hour <= 23 and 0 <= s.weekday <= 6
        assert s.telegram_chat_id is None or re.fullmatch(r"-?[0-9]+", s.telegram_chat_id)


def _record_lines(path: Path) -> list[int]:
    """The first line of every non-blank record, as an independent csv pass sees it."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8", errors="surrogateescape"), newline=""))
    next(reader)
    out, previous = [], reader.line_num
    for record in reader:
        if any(c.strip() for c in record):
            out.append(previous + 1)
        previous = reader.line_num
    return out


toml_value = st.recursive(
    st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20), st.sampled_from(["America", "²", "UTC", "monday"])),
    lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    assert isinstance(value, list)
    return "[" + ", ".join(toml_literal(v) for v in value) + "]"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(st.sampled_from(["interests", "frequency", "hour", "tz", "weekday", "telegram"]),
                                toml_value, max_size=6), min_size=1, max_size=6))
def test_any_toml_values_give_rows_or_line_errors_never_an_exception(tmp_path_factory, tables):
    path = tmp_path_factory.mktemp("gen") / "gen.toml"
    text = ""
    starts = []
    for n, table in enumerate(tables):
        starts.append(text.count("\n") + 1)
        text += f'[[subscriber]]\nemail = "p{n}@example.org"\n'
        text += "".join(f"{key} = {toml_literal(value)}\n" for key, value in table.items()) + "\n"
    path.write_text(text, encoding="utf-8")
    rows, errors = read_subscribers_file(path)
    assert sorted([r.line for r in rows] + [e.line for e in errors]) == starts
    assert all(r.subscriber.tz in ZONES for r in rows)


# --- export: no formulas out, the same data back in -----------------------------------------------------

@given(st.text(max_size=20))
def test_escaping_a_cell_is_undone_exactly_and_never_starts_a_formula(value):
    escaped = escape_cell(value)
    assert unescape_cell(escaped) == value
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_export_neutralises_formulas_and_import_reads_it_back_unchanged(run, tmp_path, env, monkeypatch):
    path = tmp_path / "people.toml"
    path.write_text(
        '[[subscriber]]\nemail = "ada@example.org"\ninterests = ["-survey reward", "reward model"]\n\n'
        '[[subscriber]]\nemail = "+1@example.org"\ninterests = ["@home robots", "\'-quoted already"]\n\n'
        '[[subscriber]]\nemail = "bo@example.org"\ninterests = ["=HYPERLINK(x) safety"]\n\n'
        '[[subscriber]]\ntelegram = "-100123"\ninterests = ["\'\'=two quotes then a formula", "plain"]\n',
        encoding="utf-8")
    code, _, err = run("subscribers", "import", str(path))
    assert code == 0, err
    before = people(run)
    code, exported, _ = run("subscribers", "export")
    assert code == 0
    cells = [c for record in csv.reader(io.StringIO(exported)) for c in record]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'-survey reward\nreward model" in cells and "'+1@example.org" in cells and "'-100123" in cells
    again = tmp_path / "exported.csv"
    again.write_text(exported, encoding="utf-8")
    monkeypatch.setenv("PAPERPOST_DATA", str(tmp_path / "fresh"))
    code, out, err = run("subscribers", "import", str(again))
    assert code == 0 and "4 added" in out, err
    fields = ("email", "telegram", "interests", "hour", "tz", "weekday", "frequency")
    assert [tuple(p[f] for f in fields) for p in people(run)] == [tuple(p[f] for f in fields) for p in before]
    assert run("subscribers", "export")[1] == exported


# --- look-alikes where interests are entered ------------------------------------------------------------

def test_look_alikes_are_warned_about_where_interests_are_entered(run, tmp_path):
    code, out, err = run("subscribers", "add", "ada@example.org", "--interests", "reward −survey ; RLHF ОR DPO")
    assert code == 0 and "created ada@example.org" in out
    assert "minus sign" in err and "is read as '-'" in err and "looks like the operator OR" in err
    code, out, err = run("search", "reward –survey", "--json")
    assert code == 0 and "en dash" in err and out.strip() == ""  # stdout stays clean JSON
    path = tmp_path / "people.csv"
    path.write_text("email,interests\nbo@example.org,mоdel alignment\ncy@example.org,plain words\n", encoding="utf-8")
    code, out, err = run("subscribers", "import", str(path))
    assert code == 0 and "2 added" in out
    assert f"{path}:2: warning: interest 1: column 1: 'mоdel' mixes Latin and Cyrillic" in err
    assert f"{path}:3:" not in err


@pytest.mark.parametrize("option, value, field", [("--tz", "America", "tz"), ("--tz", "Europe/" * 43, "tz"),
                                                  ("--weekday", "²", "weekday"), ("--weekday", "9" * 5000, "weekday"),
                                                  ("--telegram", "²", "telegram"), ("--interests", "x\x00y", "interests")])
def test_subscribers_add_refuses_the_same_values_in_a_sentence(run, option, value, field):
    args = ["subscribers", "add", "ada@example.org", "--interests", "reward model", option, value]
    code, _, err = run(*args)
    assert code == 1 and err.startswith("Error: Cannot add") and f"{field}:" in err and "Traceback" not in err
    assert people(run) == []
