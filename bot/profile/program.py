"""One interest compiled against the atom table: what triggers it, and how to evaluate it.

Evaluation works on bitsets: `bits[atom]` is a Python int whose bit i says "atom present in
paper i", so one pass of AND / OR / NOT over ints decides an interest for a whole batch of
papers at once. `triggers` is a set of atoms of which at least one occurs in every paper the
interest matches (the grammar guarantees one exists): interests are only evaluated when one
of their triggers occurred in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.profile.atoms import AtomTable
from bot.profile.nodes import (
    FIELD_PARTS,
    And,
    Field,
    Like,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Trending,
)

Tree = tuple[Any, ...]  # ("a", atom, text) | ("&", items) | ("|", items) | ("!", item)


@dataclass(frozen=True)
class Program:
    """A compiled interest: its tree over atom ids, its triggers, and the atoms it holds."""

    tree: Tree
    triggers: frozenset[int]
    atoms: tuple[int, ...]
    # A plain conjunction (the usual interest) is evaluated without recursion:
    positives: tuple[tuple[int, str], ...] | None
    negatives: tuple[int, ...]
    # Each leaf outside exclusions with the OR items above it: in a paper where the interest
    # holds, the leaf gives hits exactly where all those items hold (see `hit_paths`).
    hit_paths: tuple[tuple[tuple[int, str], tuple[Tree, ...]], ...] = ()


def compile_interest(node: Node, table: AtomTable) -> Program:
    """Compile a parsed interest, acquiring its atoms in `table` (release them with `release`)."""
    held: list[int] = []
    tree = _tree(node, table, None, held)
    triggers, _ = _triggers(tree)
    positives, negatives = _conjunction(tree)
    return Program(tree, frozenset(triggers), tuple(held), positives, negatives, tuple(_hit_paths(tree, ())))


def release(program: Program, table: AtomTable) -> None:
    """Give back the atoms a program holds."""
    for atom in program.atoms:
        table.release(atom)


def _tree(node: Node, table: AtomTable, field: str | None, held: list[int]) -> Tree:
    if isinstance(node, (And, Or)):
        return ("&" if isinstance(node, And) else "|", tuple(_tree(i, table, field, held) for i in node.items))
    if isinstance(node, Not):
        return ("!", _tree(node.item, table, field, held))
    if isinstance(node, Field):
        return _tree(node.item, table, node.name, held)
    key: tuple[Any, ...]
    if isinstance(node, Trending):
        key = ("trending",)
    elif isinstance(node, Like):
        key = ("like", node.paper_id)
    elif field == "cat":
        key = ("cat", node.stem if isinstance(node, Prefix) else node.word, isinstance(node, Prefix))  # type: ignore[union-attr]
    elif isinstance(node, Prefix):
        key = ("words", FIELD_PARTS[field], (node.stem,), True)
    else:
        key = ("words", FIELD_PARTS[field], node.words if isinstance(node, Phrase) else (node.word,), False)
    atom = table.acquire(key)
    held.append(atom)
    return ("a", atom, node.text, _cost(key))


def _cost(key: tuple[Any, ...]) -> int:
    """How often an atom is likely to occur: triggers prefer rare ones (phrases, exact words)."""
    if key[0] in ("trending", "like"):
        return 1
    if key[0] == "cat":
        return 6 if key[2] else 4
    if key[3]:
        return 5
    return 3 if len(key[2]) == 1 else 2


def _triggers(tree: Tree) -> tuple[set[int], int]:
    """A cheap set of atoms one of which is present whenever the tree matches, and its cost."""
    kind = tree[0]
    if kind == "a":
        return {tree[1]}, tree[3]
    if kind == "|":
        atoms: set[int] = set()
        cost = 0
        for item in tree[1]:
            sub, c = _triggers(item)
            atoms |= sub
            cost += c
        return atoms, cost
    if kind == "&":
        options = [_triggers(item) for item in tree[1] if item[0] != "!" and _positive(item)]
        return min(options, key=lambda o: (o[1], len(o[0])))
    raise ValueError("an exclusion has no triggers")  # the grammar rejects such interests


def _positive(tree: Tree) -> bool:
    kind = tree[0]
    if kind == "a":
        return True
    if kind == "&":
        return any(_positive(i) for i in tree[1])
    if kind == "|":
        return all(_positive(i) for i in tree[1])
    return False


def _conjunction(tree: Tree) -> tuple[tuple[tuple[int, str], ...] | None, tuple[int, ...]]:
    """(present atoms, absent atoms) when the tree is a plain AND of leaves and NOT-leaves."""
    items = tree[1] if tree[0] == "&" else (tree,)
    pos, neg = [], []
    for item in items:
        if item[0] == "a":
            pos.append((item[1], item[2]))
        elif item[0] == "!" and item[1][0] == "a":
            neg.append(item[1][1])
        else:
            return None, ()
    return tuple(pos), tuple(neg)


def _hit_paths(tree: Tree, above: tuple[Tree, ...]) -> list[tuple[tuple[int, str], tuple[Tree, ...]]]:
    """Each leaf that can give hits, with the OR items on its way down from the root.

    As the reference counts hits: in a satisfied AND every item is satisfied, in a satisfied OR
    only the items that hold, and nothing under an exclusion. So a leaf gives hits in a matched
    paper exactly when every OR item above it (and the leaf itself, if it is one) holds there.
    """
    kind = tree[0]
    if kind == "a":
        return [((tree[1], tree[2]), above)]
    if kind == "!":
        return []
    if kind == "|":
        return [path for item in tree[1] for path in _hit_paths(item, (*above, item))]
    return [path for item in tree[1] for path in _hit_paths(item, above)]


def evaluate_bits(tree: Tree, bits: list[int]) -> int:
    """The papers (as a bitset) where a tree holds, given each atom's bitset."""
    kind = tree[0]
    if kind == "a":
        return bits[tree[1]]
    if kind == "&":
        result = -1
        for item in tree[1]:
            result &= evaluate_bits(item, bits)
            if not result:
                break
        return result
    if kind == "|":
        result = 0
        for item in tree[1]:
            result |= evaluate_bits(item, bits)
        return result
    return ~evaluate_bits(tree[1], bits)
