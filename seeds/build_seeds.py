"""Rebuild seeds/papers.json from the saved page in shared/seeds (run by hand; the output is committed).

The saved Hugging Face Daily Papers page gives title + abstract for 55 papers;
seed_papers.json beside it gives the confirmed arXiv id, authors and v1 date of
most of them. Papers without a confirmed arXiv id get a stable id of our own
(`seed-` + a hash of the title), never an invented arXiv id.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HEADER_LINES = 6  # "new", "Get trending...", "Subscribe", "Daily Papers", "byAK ...", "Aug 13"


def build(page: Path, confirmations: Path) -> list[dict]:
    paragraphs = [p.strip() for p in page.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    body = paragraphs[HEADER_LINES:]
    if len(body) % 2:
        raise SystemExit(f"{page}: expected title/abstract pairs, found an odd number of paragraphs")
    confirmed = json.loads(confirmations.read_text(encoding="utf-8")) if confirmations.exists() else []
    items = []
    for n, (title, abstract) in enumerate(zip(body[::2], body[1::2])):
        facts = confirmed[n] if n < len(confirmed) and confirmed[n]["title"] == title else {}
        arxiv_id = facts.get("arxiv_id") if facts.get("confirmed") else ""
        paper: dict = {
            "id": arxiv_id or "seed-" + hashlib.sha256(title.encode()).hexdigest()[:12],
            "title": title,
            "summary": abstract,
            "authors": [{"name": name} for name in facts.get("authors", [])],
        }
        if facts.get("submitted"):
            paper["publishedAt"] = facts["submitted"] + "T00:00:00.000Z"
        items.append({"paper": paper, "title": title})
    return items


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "seeds")
    items = build(shared / "000_378022d78fe65114.txt", shared / "seed_papers.json")
    out = Path(__file__).with_name("papers.json")
    out.write_text(json.dumps(items, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(items)} papers to {out}")


if __name__ == "__main__":
    main()
