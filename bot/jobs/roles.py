"""A worker's jobs and roles: which jobs exist, how often each runs, and what the workers table shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import Config

TICK_MAX = 60.0  # seconds: the longest the poll job waits between looks at the database
JOBS = ("poll", "plan", "send")
PLANNER_JOBS = ("poll", "plan")


@dataclass(frozen=True)
class Intervals:
    """Seconds between runs of each job."""

    poll: float
    plan: float
    send: float

    @classmethod
    def from_config(cls, config: Config) -> Intervals:
        return cls(poll=min(float(config["PAPERPOST_POLL_INTERVAL"]), TICK_MAX),
                   plan=float(config["PAPERPOST_PLAN_INTERVAL"]), send=float(config["PAPERPOST_SEND_INTERVAL"]))


def roles_of(jobs: Sequence[str], planning: bool) -> tuple[str, ...]:
    """What the workers table shows: the planner's poll/plan, send, and `standby` while waiting on the lock."""
    planner_jobs = [j for j in PLANNER_JOBS if j in jobs]
    roles = planner_jobs if planning else []
    if "send" in jobs:
        roles.append("send")
    if planner_jobs and not planning:
        roles.append("standby")
    return tuple(roles)
