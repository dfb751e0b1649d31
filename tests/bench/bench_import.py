"""Benchmark of `paperpost subscribers import` (a script, not collected by pytest): `python tests/bench/bench_import.py`.

Writes a CSV of ROWS subscribers (default 100,000, about 470 bytes a row: ~47 MB) with eight
interests each and one bad row in a thousand, then runs the real CLI on it in a child process
against a fresh SQLite database, and prints one table: rows, file size, seconds, rows per
second, the child's peak RSS, and the ceiling measured in the same run (the bare libraries
doing the same job: csv.reader and sqlite3 executemany of the same rows, no validation), so
that the ratio, not the time, is what compares across machines. Generated from a fixed seed.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORDS = """attention transformer diffusion reward model policy gradient reinforcement learning language vision graph
neural network contrastive representation retrieval augmented generation alignment preference optimization feedback
instruction tuning adapter quantization pruning distillation sparse mixture expert routing scaling benchmark
evaluation robustness adversarial privacy federated continual reasoning planning agent multimodal segmentation
detection tracking depth estimation rendering radiance gaussian splatting variational autoencoder flow denoising
sampler latent manifold kernel bayesian uncertainty calibration conformal causal counterfactual fairness
interpretability probing circuit steering memory recurrent convolution normalization optimizer generalization""".split()


def interest(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(3, 6))
    shape = rng.random()
    if shape < 0.3:
        return f'"{words[0]} {words[1]}" ' + " ".join(words[2:])
    if shape < 0.5:
        return f"({words[0]} OR {words[1]}) " + " ".join(words[2:]) + f" -{rng.choice(WORDS)}"
    if shape < 0.6:
        return f"ti:{words[0]} " + " ".join(f"{w[:5]}*" if len(w) > 5 else w for w in words[1:])
    return " ".join(words)


def write_csv(path: Path, rows: int, bad_every: int, seed: int = 7) -> int:
    """Write the file; return how many rows are deliberately bad (one in `bad_every`; 0: none)."""
    rng = random.Random(seed)
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "interests", "frequency", "weekday", "hour", "tz", "telegram"])
        for n in range(rows):
            interests = "\n".join(interest(rng) for _ in range(8))
            tz = rng.choice(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"])
            if bad_every and n % bad_every == bad_every - 1:
                bad += 1
                tz = "America"  # a folder of zones, not a zone
            writer.writerow([f"reader{n}@example.org", interests, rng.choice(["daily", "weekly"]),
                             rng.choice(["monday", "friday", ""]), rng.randint(0, 23), tz, ""])
    return bad


def run_import(path: Path, data: Path) -> tuple[float, int, int, str]:
    """Run the CLI on `path`; return (seconds, peak RSS in KiB of the child, exit code, last line)."""
    env = {**os.environ, "PAPERPOST_DATA": str(data), "PAPERPOST_CONFIG": str(data / "none.toml")}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True,
                   cwd=REPO)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "subscribers", "import", str(path)], env=env,
                          capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    last = (done.stdout.strip().splitlines() or [done.stderr.strip()[-200:]])[-1]
    return seconds, max(peak, before), done.returncode, last


def ceiling(path: Path, folder: Path) -> float:
    """The bare libraries: read the same CSV and insert its rows with executemany in one transaction."""
    started = time.perf_counter()
    connection = sqlite3.connect(folder / "ceiling.db")
    connection.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, email TEXT UNIQUE, frequency TEXT, hour INT, tz TEXT)")
    connection.execute("CREATE TABLE i (subscriber_id INT, position INT, text TEXT)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        batch: list[list[str]] = []
        for record in reader:
            batch.append(record)
            if len(batch) == 1000:
                _insert(connection, batch)
                batch = []
        _insert(connection, batch)
    connection.commit()
    connection.close()
    return time.perf_counter() - started


def _insert(connection: sqlite3.Connection, batch: list[list[str]]) -> None:
    ids = [connection.execute("INSERT INTO s (email, frequency, hour, tz) VALUES (?, ?, ?, ?) RETURNING id",
                              (r[0], r[2], int(r[4]), r[5])).fetchone()[0] for r in batch]
    connection.executemany("INSERT INTO i VALUES (?, ?, ?)",
                           [(sid, n, text) for sid, r in zip(ids, batch) for n, text in enumerate(r[1].splitlines())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad-every", type=int, default=1000, help="one bad row (tz=America) in N; 0: none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "subscribers.csv"
        bad = write_csv(path, args.rows, args.bad_every)
        size_mb = path.stat().st_size / 1e6
        seconds, peak_kib, code, last = run_import(path, folder / "data")
        bare = ceiling(path, folder)
    print(f"{'rows':>8} {'MB':>6} {'bad':>5} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>11} {'bare s':>7} {'ratio':>6}")
    print(f"{args.rows:>8} {size_mb:>6.1f} {bad:>5} {seconds:>8.1f} {args.rows / seconds:>8.0f} "
          f"{peak_kib / 1024:>11.0f} {bare:>7.1f} {seconds / bare:>6.1f}")
    print(f"exit code {code} (1: some rows were rejected, as planted); {last}")


if __name__ == "__main__":
    main()
