"""A test double of the engine's Owner interface (bot.jobs.send.Owner): a fixed id and a settable set of dead owners."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Owner:
    id: int
    dead: set[int] = field(default_factory=set)

    def dead_owners(self) -> set[int]:
        return set(self.dead)
