"""Hash chains for custody logs: canonical JSON, entry hashes, linking and checking.

The format (used by the database's custody log and by ``custody.jsonl`` in evidence bundles):

* One JSON object per line (JSON Lines, UTF-8, ``\\n`` after each line).
* Every entry carries ``seq`` (an integer: 1, 2, 3, … with no gaps), ``prev_hash`` (the ``hash`` of the
  entry before it; for the first entry the chain's *anchor*, 64 zeros unless the caller chose another)
  and ``hash``, plus any free fields (``event``, ``at``, ``actor``, ``tool_version``, …).
* ``hash`` is the lowercase hex SHA-256 of :func:`canonical` of the entry *without* its ``hash`` key.
  Because ``prev_hash`` is part of what is hashed, changing, removing, inserting or reordering any entry
  breaks every link after it.

Prefer strings to floats in free fields (e.g. ISO 8601 times): float formatting differs between languages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

ZERO_HASH = "0" * 64
"""The anchor of a chain that starts from nothing: ``prev_hash`` of its first entry."""

_HEX = frozenset("0123456789abcdef")


def canonical(obj: object) -> bytes:
    """The canonical bytes of a JSON value: keys sorted, no spaces (``,`` and ``:``), ASCII only
    (``\\uXXXX`` escapes), no NaN/Infinity. Equal values give equal bytes; this is what gets hashed.

    Raises ``TypeError``/``ValueError`` for values JSON cannot hold.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def entry_hash(entry: dict) -> str:
    """Lowercase hex SHA-256 (64 characters) of the canonical JSON of ``entry`` without its ``hash`` key."""
    return hashlib.sha256(canonical({key: value for key, value in entry.items() if key != "hash"})).hexdigest()


def link(entries: list[dict], anchor: str = ZERO_HASH, *, first_seq: int = 1) -> list[dict]:
    """Copies of ``entries`` with ``seq``, ``prev_hash`` and ``hash`` filled in (existing values replaced).

    ``anchor`` is the first entry's ``prev_hash``: 64 zeros for a new chain, or the ``hash`` of the last
    entry already stored when appending (then give ``first_seq`` = that entry's ``seq`` + 1). The inputs
    are not modified.
    """
    linked: list[dict] = []
    previous = anchor
    for offset, entry in enumerate(entries):
        item = {key: value for key, value in entry.items() if key not in ("seq", "prev_hash", "hash")}
        item["seq"] = first_seq + offset
        item["prev_hash"] = previous
        item["hash"] = previous = entry_hash(item)
        linked.append(item)
    return linked


def chain_problems(lines: Iterable[bytes], *, anchor: str | None = ZERO_HASH, first_seq: int | None = 1) -> list[str]:
    """Every break in a chain of JSON lines, in order, each one line such as
    ``"entry 3 does not carry the hash of entry 2"``; an empty list means the chain is intact.

    ``lines`` are the raw lines (a trailing ``\\n`` or ``\\r\\n`` is ignored); entries are numbered from 1 by
    position. ``anchor``/``first_seq``: what the first entry must carry as ``prev_hash``/``seq``; ``None``
    accepts whatever it carries (for an excerpt that starts in the middle of a longer chain). A link is
    checked against the hash *recomputed* from the previous entry's content, so an edited entry whose
    ``hash`` field was also rewritten is still caught at the next link.
    """
    problems: list[str] = []
    previous_hash: str | None = None  # recomputed hash of the previous entry
    previous_seq: int | None = None
    for number, raw in enumerate(lines, start=1):
        try:
            entry = json.loads(raw.rstrip(b"\r\n"))
        except (ValueError, UnicodeDecodeError):
            entry = None
        if not isinstance(entry, dict):
            problems.append(f"entry {number} is not a JSON object")
            previous_hash, previous_seq = None, None
            continue
        seq, prev_hash, recorded = entry.get("seq"), entry.get("prev_hash"), entry.get("hash")
        if not (isinstance(seq, int) and not isinstance(seq, bool)):
            problems.append(f"entry {number} has no integer seq")
        elif previous_seq is not None and seq != previous_seq + 1:
            problems.append(f"entry {number} has seq {seq}, expected {previous_seq + 1} (entries removed or reordered)")
        elif number == 1 and first_seq is not None and seq != first_seq:
            problems.append(f"entry 1 has seq {seq}, expected {first_seq} (the start of the log is missing)")
        if not _is_hex_hash(recorded):
            problems.append(f"entry {number} has no hash (64 hex digits)")
        actual = entry_hash(entry)
        if _is_hex_hash(recorded) and recorded != actual:
            problems.append(f"entry {number} was changed after it was written (its content does not give its hash)")
        if number == 1:
            if anchor is not None and prev_hash != anchor:
                problems.append(f"entry 1 does not start the chain (its prev_hash is not the anchor {anchor[:12]}…)")
        elif previous_hash is not None and prev_hash != previous_hash:
            problems.append(f"entry {number} does not carry the hash of entry {number - 1}")
        previous_hash = actual
        previous_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    return problems


def _is_hex_hash(value: object) -> bool:
    """True for a lowercase hex SHA-256 (64 characters)."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX
