"""The settings table: every setting with its default and help, read from the environment or paperpost.toml."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import platformdirs

from bot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "templates"
SEEDS_DIR = REPO_ROOT / "seeds"


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be zero or a positive number")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError("must be 1 or 0")
    return value in ("1", "true", "yes", "on")


SEND_PROCESSES_MAX = 4  # the default's cap: each sender holds a claim's digests (~400 MB at 20,000 readers)


def _process_count(text: str) -> int:
    """A positive number of processes; '' is the machine's CPU count, at most SEND_PROCESSES_MAX."""
    if text.strip() == "":
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(cpus, SEND_PROCESSES_MAX))
    return _positive_int(text)


def _networks(text: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (`10.0.0.0/8`), each checked; '' is none."""
    found = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                found.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network such as 10.0.0.0/8") from None
    return tuple(found)


SETTINGS: tuple[Setting, ...] = (
    Setting("PAPERPOST_DATA", "", "Data directory (database, outbox folder). Default: the per-user data dir."),
    Setting("DATABASE_URL", "", "SQLAlchemy URL. Default: SQLite file `paperpost.db` in the data dir."),
    Setting("PAPERPOST_SMTP_URL", "", "`smtp://user:pass@host:port?starttls=1` or `smtps://...`. Unset: write `.eml` files to the outbox folder."),
    Setting("PAPERPOST_MAIL_FROM", "paperpost <digest@paperpost.localhost>", "Sender address of every email."),
    Setting("PAPERPOST_BASE_URL", "http://localhost:8000", "Public URL of the web pages, used in every link."),
    Setting("PAPERPOST_SECRET_KEY", "", "Signs links (confirm, manage, unsubscribe). Required unless the base URL is local."),
    Setting("PAPERPOST_POSTAL_ADDRESS", "", "Sender's postal address for the email footer (bulk-sender rules ask for one)."),
    Setting("PAPERPOST_UNSUBSCRIBE_MAILTO", "", "Optional mailto address added to List-Unsubscribe."),
    Setting("PAPERPOST_SMTP_CONNECTIONS", "4", "SMTP connections used in parallel (each reused for many messages).", _positive_int),
    Setting("PAPERPOST_SEND_PROCESSES", "", "Processes that send while `paperpost digest` plans: 1 is the command's own process; more are that many child processes (each one core). Default: the machine's CPU count, at most 4.", _process_count),
    Setting("PAPERPOST_SMTP_RATE", "0", "Most messages per second sent over SMTP, across all connections (0: no limit).", _non_negative_float),
    Setting("PAPERPOST_SMTP_TIMEOUT", "30", "Seconds to wait for the SMTP server before a send counts as failed (it is retried).", _positive_int),
    Setting("PAPERPOST_BOUNCE_LIMIT", "3", "Permanent delivery failures in a row after which the email channel of that subscriber turns off (Telegram stays on).", _positive_int),
    Setting("PAPERPOST_STALE_HOURS", "36", "A digest not sent within this many hours is dropped; its papers go into the next one.", _positive_int),
    Setting("PAPERPOST_DKIM_KEY_FILE", "", "PEM private key to DKIM-sign every email (unset: no DKIM signature)."),
    Setting("PAPERPOST_DKIM_SELECTOR", "paperpost", "DKIM selector: the key is published at SELECTOR._domainkey.DOMAIN."),
    Setting("PAPERPOST_DKIM_DOMAIN", "", "DKIM signing domain (d=). Default: the domain of PAPERPOST_MAIL_FROM."),
    Setting("PAPERPOST_RECENT_DAYS", "3", "A new or changed profile is matched against papers first seen this many days back.", _positive_int),
    Setting("PAPERPOST_DIGEST_MAX", "25", "Most papers in one digest; the rest are behind 'and N more'.", _positive_int),
    Setting("PAPERPOST_TRENDING_TOP", "10", "`is:trending` means the top N most upvoted papers of a day.", _positive_int),
    Setting("PAPERPOST_POLL_INTERVAL", "900", "Seconds between polls of a source (a source may set its own).", _positive_int),
    Setting("PAPERPOST_PLAN_INTERVAL", "300", "Seconds between runs of the digest planner.", _positive_int),
    Setting("PAPERPOST_SEND_INTERVAL", "60", "Seconds between a sender's looks at the outbox when nothing wakes it (PostgreSQL wakes it at once).", _positive_int),
    Setting("PAPERPOST_RETENTION_DAYS", "90", "Delivered messages, their matches and papers no one needs are pruned after this many days (never queued mail).", _positive_int),
    Setting("PAPERPOST_TELEGRAM_TOKEN", "", "Telegram bot token (Telegram alerts are off when unset)."),
    Setting("PAPERPOST_TELEGRAM_API_URL", "https://api.telegram.org/bot", "Telegram Bot API base URL (python-telegram-bot `base_url`)."),
    Setting("PAPERPOST_TRUSTED_PROXIES", "", "Comma-separated addresses or networks of your reverse proxies (`10.0.0.0/8,::1`): only their X-Forwarded-For is believed, taking the right-most address that is not theirs. Unset: the connecting address is the client.", _networks),
    Setting("PAPERPOST_HEALTH_DETAILS", "0", "1: GET /healthz also shows sources, outbox, jobs and workers (host, pid); 0: status only (details: `paperpost stats`, `paperpost sources list`).", _flag),
    Setting("PORT", "8000", "Port of the web pages (`paperpost web`, `paperpost run`).", _positive_int),
    Setting("PAPERPOST_TELEGRAM_RATE", "30", "Most Telegram messages per second overall, across every sender process (each chat also gets at most one per second).", _non_negative_float),
    Setting("PAPERPOST_TELEGRAM_CONNECTIONS", "4", "Telegram messages sent in parallel by one sender process.", _positive_int),
    Setting("PAPERPOST_TELEGRAM_TIMEOUT", "10", "Seconds to wait for the Bot API before a send counts as failed (it is retried).", _positive_int),
    Setting("PAPERPOST_TELEGRAM_WEBHOOK", "0", "1: take chat commands on the web app (`POST /telegram/{secret}`) instead of long polling in the worker."),
    Setting("PAPERPOST_TELEGRAM_WEBHOOK_SECRET", "", "The webhook's path secret and secret-token header. Default: derived from PAPERPOST_SECRET_KEY."),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Resolved settings: raw values by name, typed accessors for the ones code needs."""

    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def data_dir(self) -> Path:
        return Path(self.values["PAPERPOST_DATA"])

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def database_url(self) -> str:
        return self.values["DATABASE_URL"]

    @property
    def base_url(self) -> str:
        return self.values["PAPERPOST_BASE_URL"].rstrip("/")

    @property
    def secret_key(self) -> str:
        return self.values["PAPERPOST_SECRET_KEY"]


def is_local_url(url: str) -> bool:
    """True for URLs that only this machine can open (no secret key needed there)."""
    host = urlsplit(url).hostname or ""
    return host in {"localhost", "127.0.0.1", "::1"} or host.endswith(".localhost")


def load_config(environ: Mapping[str, str] | None = None, toml_path: Path | None = None) -> Config:
    """Resolve every setting: environment first, then paperpost.toml (if any), then the default."""
    environ = os.environ if environ is None else environ
    file_values = _read_toml(toml_path or Path(environ.get("PAPERPOST_CONFIG", "paperpost.toml")))
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        if raw is None:
            raw = str(file_values.get(setting.name, setting.default))
        try:
            values[setting.name] = setting.parse(raw) if raw != "" or setting.parse is str else setting.parse(setting.default)
        except ValueError as exc:
            raise ConfigError(f"Setting {setting.name}={raw!r} is invalid ({exc}); fix it or unset it to use {setting.default!r}.") from exc
    if not values["PAPERPOST_DATA"]:
        values["PAPERPOST_DATA"] = platformdirs.user_data_dir("paperpost")
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{Path(values['PAPERPOST_DATA']) / 'paperpost.db'}"
    values["DATABASE_URL"] = sqlalchemy_url(values["DATABASE_URL"])
    return Config(values)


def sqlalchemy_url(url: str) -> str:
    """Platforms hand out `postgres://` URLs; SQLAlchemy wants `postgresql+psycopg://` (the driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def require_secret_key(config: Config) -> str:
    """The signing key; fail loudly when a public deployment has none.

    With a local base URL (the demo, a laptop) a random key is generated once
    and kept in the data dir, so links stay valid across runs.
    """
    if config.secret_key:
        return config.secret_key
    if not is_local_url(config.base_url):
        raise ConfigError("PAPERPOST_SECRET_KEY is not set: set it to a long random string before serving a public base URL.")
    key_file = config.data_dir / "secret.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file or remove it.") from exc
    unknown = set(data) - set(SETTINGS_BY_NAME)
    if unknown:
        raise ConfigError(f"{path} names unknown settings {sorted(unknown)}; the README lists the valid ones.")
    return data
