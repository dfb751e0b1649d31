"""`paperpost demo`: the whole job offline on the embedded default (seeds in, .eml and Telegram .txt files out)."""

from __future__ import annotations

import tomllib

import click

from bot.app import App
from bot.cli.root import cli, console, pass_app
from bot.cli.source_cmds import print_poll_reports
from bot.cli.subscriber_cmds import import_subscribers
from bot.config import SEEDS_DIR
from bot.jobs.cycle import run_cycle
from bot.store import sources, subscribers, votes
from subscribers.importer import read_subscribers_file

# The seeds are polled like any source: Hugging Face daily-papers JSON read from file:// URLs.
SEED_SOURCES = (
    ("seeds", SEEDS_DIR / "papers.json"),
    ("seeds-trending", SEEDS_DIR / "hf_daily_papers.json"),
)
SEED_SUBSCRIBERS = SEEDS_DIR / "subscribers.toml"


@cli.command("demo")
@pass_app
def demo_cmd(app: App) -> None:
    """Run the whole job offline: seed papers -> sample subscribers -> digests and Telegram alerts in the outbox folder."""
    if app.config["PAPERPOST_SMTP_URL"]:
        console.print("PAPERPOST_SMTP_URL is set, but the demo only writes to the outbox folder.", style="yellow")
        app.config = type(app.config)({**app.config.values, "PAPERPOST_SMTP_URL": ""})
    console.print(f"data dir: {app.config.data_dir}")
    with app.db.session() as session:
        names = [sources.ensure_source(session, name, path.as_uri(), "hf", app.clock()).name for name, path in SEED_SOURCES]
    import_subscribers(app, SEED_SUBSCRIBERS)
    seed_chats = {row.subscriber.telegram_chat_id for row in read_subscribers_file(SEED_SUBSCRIBERS)[0]} - {None}
    with app.db.session() as session:  # the seed chats play people who sent /start to the bot (no one else's)
        for chat in sorted(seed_chats):
            person = subscribers.find_by_identifier(session, f"tg:{chat}")
            if person is not None and not person.telegram_started:
                subscribers.telegram_started(session, person.id)
    app.telegram_to_folder = not app.config["PAPERPOST_TELEGRAM_TOKEN"]  # offline: Telegram messages as .txt files
    written: list[str] = []
    chats: list[str] = []
    mailer_folder = app.config.outbox_dir

    def on_send(item, result: str) -> None:  # type: ignore[no-untyped-def]
        if result == "sent" and item.channel == "email":
            written.append(item.email)
        elif result == "sent":
            chats.append(item.email or f"#{item.subscriber_id}")

    report = run_cycle(app, force_poll=True, ignore_hour=True, source_names=names, on_send=on_send,
                       after_poll=lambda: record_seed_votes(app))
    print_poll_reports(report.polls)
    console.print(f"matched {report.matched.papers} new papers and {report.matched.profiles} new profiles: "
                  f"{report.matched.matches} new matches")
    quiet = report.planned.nothing_new
    console.print(f"digests: {len(written)} written, {report.sent.failed} failed, "
                  f"{quiet} {'subscriber' if quiet == 1 else 'subscribers'} with nothing new")
    for email in written:
        console.print(f"  → {email}")
    if chats:
        console.print(f"telegram: {len(chats)} messages written (.txt), for {', '.join(sorted(set(chats)))}")
    if written or chats:
        console.print(f"emails (.eml), previews (.html) and Telegram messages (.txt) are in {mailer_folder}")
    else:
        console.print(f"nothing new to send (the outbox folder is {mailer_folder})")
    click.echo("next: `paperpost search \"reward model\"`, `paperpost recommend bo@example.org`, "
               "`paperpost subscribers list`, `paperpost papers`")


def record_seed_votes(app: App) -> None:
    """The sample readers' `likes` (seeds/subscribers.toml) as "more like this" votes: the demo shows suggestions."""
    tables = tomllib.loads(SEED_SUBSCRIBERS.read_text(encoding="utf-8")).get("subscriber", [])
    with app.db.session() as session:
        for table in tables:
            person = table.get("email") and subscribers.find_subscriber(session, table["email"])
            for paper_id in table.get("likes", []) if person else []:
                votes.set_vote(session, person.id, paper_id, votes.MORE, app.clock())
