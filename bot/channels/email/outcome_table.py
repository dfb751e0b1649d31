"""The one table that maps what went wrong sending an email to an Outcome (SMTP replies, lost connections, OS errors).

A row is (stage, reply) -> outcome kind and the sentence recorded on the row.
`stage` is where it happened: `connect` (TCP, greeting, EHLO), `starttls`,
`login`, `mail` (MAIL FROM), `rcpt` (RCPT TO), `data` (the message and its
final reply), `folder` (writing the .eml file), `sign` (DKIM). `reply` is an
exact code ("421"), a class ("4xx", "5xx"), or "lost" (an OSError, a timeout,
a dropped connection, a TLS failure). The most precise row wins: the exact
code, then its class, then "lost". tests/test_channels_email_outcomes.py walks
the table row by row against a real SMTP server answering each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.channels.outcomes import Kind, Outcome

Stage = Literal["connect", "starttls", "login", "mail", "rcpt", "data", "folder", "sign"]


@dataclass(frozen=True)
class Rule:
    stage: Stage
    reply: str  # "421", "4xx", "5xx" or "lost"
    outcome: Kind
    says: str  # formatted with where, code, text, detail, to


_QUEUED = "; the mail stays queued and goes out on a later run"
EMAIL_OUTCOMES: tuple[Rule, ...] = (
    Rule("connect", "lost", "unavailable", "cannot reach the SMTP server {where} ({detail}); check PAPERPOST_SMTP_URL "
         "and that the server is up" + _QUEUED),
    Rule("connect", "4xx", "unavailable", "the SMTP server {where} turned us away ({code} {text})" + _QUEUED),
    Rule("connect", "5xx", "unavailable", "the SMTP server {where} refused us ({code} {text}); check PAPERPOST_SMTP_URL"
         + _QUEUED),
    Rule("starttls", "lost", "unavailable", "TLS with the SMTP server {where} failed ({detail}); check its certificate "
         "and starttls= in PAPERPOST_SMTP_URL" + _QUEUED),
    Rule("starttls", "5xx", "unavailable", "the SMTP server {where} does not offer STARTTLS ({code} {text}); check "
         "starttls= and the scheme of PAPERPOST_SMTP_URL" + _QUEUED),
    Rule("login", "lost", "unavailable", "connection to the SMTP server {where} lost while logging in ({detail})"
         + _QUEUED),
    Rule("login", "4xx", "unavailable", "the SMTP server {where} could not log us in now ({code} {text})" + _QUEUED),
    Rule("login", "5xx", "unavailable", "the SMTP server {where} refused our login ({code} {text}); check the user and "
         "password in PAPERPOST_SMTP_URL" + _QUEUED),
    Rule("mail", "421", "unavailable", "the SMTP server {where} is closing the connection ({code} {text})" + _QUEUED),
    Rule("mail", "4xx", "retry_after", "sender refused for now: {code} {text}; it will be retried"),
    Rule("mail", "5xx", "unavailable", "sender refused: {code} {text}; check PAPERPOST_MAIL_FROM" + _QUEUED),
    Rule("mail", "lost", "retry_after", "connection lost during MAIL FROM ({detail}); it will be retried"),
    Rule("rcpt", "421", "unavailable", "the SMTP server {where} is closing the connection ({code} {text})" + _QUEUED),
    Rule("rcpt", "4xx", "retry_after", "recipient {to} refused for now: {code} {text}; it will be retried"),
    Rule("rcpt", "5xx", "permanent", "recipient {to} refused: {code} {text}"),
    Rule("rcpt", "lost", "retry_after", "connection lost during RCPT TO ({detail}); it will be retried"),
    Rule("data", "421", "unavailable", "the SMTP server {where} is closing the connection ({code} {text})" + _QUEUED),
    Rule("data", "4xx", "retry_after", "message refused for now: {code} {text}; it will be retried"),
    Rule("data", "5xx", "permanent", "message refused: {code} {text}"),
    # After the final dot we cannot know whether the server kept it: the retry may duplicate (docs/delivery.md).
    Rule("data", "lost", "retry_after", "connection lost during DATA ({detail}); it will be retried"),
    Rule("folder", "lost", "unavailable", "cannot write the outbox folder ({detail}); check PAPERPOST_DATA and the "
         "disk" + _QUEUED),
    Rule("sign", "lost", "retry_after", "cannot DKIM-sign the message ({detail}); it will be retried"),
)
_BY_KEY = {(rule.stage, rule.reply): rule for rule in EMAIL_OUTCOMES}


def rule_for(stage: Stage, code: int | None) -> Rule:
    """The row for an SMTP reply `code` at `stage` (None: the connection was lost or the OS failed)."""
    # An odd reply (below 400, or -1 from a dropped line) counts as temporary; every stage has a "lost" row.
    keys = ["lost"] if code is None else [str(code), "5xx" if code >= 500 else "4xx", "lost"]
    for reply in keys:
        rule = _BY_KEY.get((stage, reply))
        if rule is not None:
            return rule
    raise LookupError(f"no outcome for {stage} {code}")


def email_outcome(stage: Stage, code: int | None = None, text: str = "", *, detail: str = "", where: str = "",
                  to: str = "") -> Outcome:
    """The Outcome for what happened at `stage`, with its sentence."""
    rule = rule_for(stage, code)
    return Outcome(rule.outcome, rule.says.format(where=where, code=code, text=text.strip(), detail=detail, to=to))
