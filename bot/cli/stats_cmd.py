"""`paperpost stats`: subscribers, papers, messages, the backlog and live workers, as tables or JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from bot.app import App
from bot.cli.root import cli, console, emit_json, emit_table, json_option, pass_app
from bot.store import stats as store_stats
from bot.store.stats import Stats


@cli.command("stats")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="Count papers and messages of the last N days (today included, UTC).")
@json_option
@pass_app
def stats_cmd(app: App, days: int, as_json: bool) -> None:
    """What came in, what went out, what waits, and which workers are live."""
    now = app.clock()
    with app.db.session() as session:
        found = store_stats.collect(session, now, days)
    if as_json:
        emit_json(json_lines(found))
        return
    _tables(found, days)


def json_lines(found: Stats) -> Iterator[dict[str, Any]]:
    """One object per line, each with a "section" key (subscribers, channels, papers, messages, backlog, alerts,
    workers)."""
    for status, count in found.subscribers.items():
        yield {"section": "subscribers", "status": status, "count": count}
    for c in found.channels:
        yield {"section": "channels", "channel": c.channel, "state": c.state, "count": c.count}
    for p in found.papers:
        yield {"section": "papers", "day": p.day, "source": p.source, "count": p.count}
    for m in found.messages:
        yield {"section": "messages", "day": m.day, "channel": m.channel, "sent": m.sent, "failed": m.failed,
               "dropped": m.dropped}
    for b in found.backlog:
        yield {"section": "backlog", "state": b.state, "channel": b.channel, "count": b.count, "oldest": b.oldest}
    a = found.alerts
    yield {"section": "alerts", "sent": a.sent, "median_seconds": a.median_seconds, "max_seconds": a.max_seconds,
           "waiting": a.waiting, "oldest_waiting": a.oldest_waiting}
    for w in found.workers:
        yield {"section": "workers", "id": w.id, "host": w.host, "pid": w.pid, "roles": list(w.roles),
               "started_at": w.started_at, "heartbeat_at": w.heartbeat_at}


def _tables(found: Stats, days: int) -> None:
    channels = {(c.channel, c.state): c.count for c in found.channels}
    emit_table(["status", "subscribers"], found.subscribers.items(), title="Subscribers")
    emit_table(["channel", "on", "off"], [(name, channels[(name, "on")], channels[(name, "off")])
                                          for name in ("email", "telegram")], title="Channels (subscribers who stay)")
    since = found.since.date().isoformat()
    emit_table(["day", "source", "papers"], [(p.day, p.source or "(no source)", p.count) for p in found.papers],
               title=f"Papers first seen since {since} ({days} days)")
    emit_table(["day", "channel", "sent", "failed", "dropped"],
               [(m.day, m.channel, m.sent, m.failed, m.dropped) for m in found.messages],
               title=f"Messages since {since}")
    if found.backlog:
        emit_table(["state", "channel", "messages", "oldest"],
                   [(b.state, b.channel, b.count, f"{b.oldest:%Y-%m-%d %H:%M}") for b in found.backlog], title="Backlog")
    else:
        console.print("Backlog: nothing waits.")
    a = found.alerts
    if a.sent or a.waiting:
        lag = (f"median {a.median_seconds:.1f} s, worst {a.max_seconds:.1f} s" if a.sent else "none sent")
        wait = f"; {a.waiting} waiting since {a.oldest_waiting:%Y-%m-%d %H:%M}" if a.waiting and a.oldest_waiting else ""
        console.print(f"Telegram alerts since {since}: {a.sent} sent, alert lag (planned to sent) {lag}{wait}.")
    else:
        console.print(f"Telegram alerts since {since}: none.")
    if found.workers:
        emit_table(["worker", "host", "pid", "roles", "started", "heartbeat"],
                   [(f"#{w.id}", w.host, w.pid, ",".join(w.roles), f"{w.started_at:%Y-%m-%d %H:%M:%S}",
                     f"{w.heartbeat_at:%H:%M:%S}") for w in found.workers], title="Live workers")
    else:
        console.print("Live workers: none (`paperpost worker` or `paperpost run` starts one).")
