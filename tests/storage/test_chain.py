"""Custody hash chains (monitor.storage.chain): linking, canonical JSON and every kind of tampering."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from monitor.storage.chain import ZERO_HASH, canonical, chain_problems, entry_hash, link

EVENTS = [{"event": "fetched", "at": "2026-11-25T12:00:00Z"}, {"event": "hashed", "at": "2026-11-25T12:00:01Z"},
          {"event": "analysed", "at": "2026-11-25T12:00:02Z"}, {"event": "exported", "at": "2026-11-25T12:00:03Z"}]


def test_a_linked_chain_is_intact_and_every_kind_of_tampering_is_named() -> None:
    entries = link(EVENTS)
    assert [entry["seq"] for entry in entries] == [1, 2, 3, 4] and entries[0]["prev_hash"] == ZERO_HASH
    assert all(entry["hash"] == entry_hash(entry) for entry in entries)
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(entries))
    assert EVENTS[0] == {"event": "fetched", "at": "2026-11-25T12:00:00Z"}  # inputs untouched
    lines = [canonical(entry) + b"\n" for entry in entries]
    assert chain_problems(lines) == []
    assert chain_problems([lines[0], lines[2], lines[1], lines[3]])[:2] == [
        "entry 2 has seq 3, expected 2 (entries removed or reordered)", "entry 2 does not carry the hash of entry 1"]
    assert chain_problems([lines[0], lines[2], lines[3]])[0].startswith("entry 2 has seq 3, expected 2")
    assert chain_problems(lines[1:])[:2] == ["entry 1 has seq 2, expected 1 (the start of the log is missing)",
                                             f"entry 1 does not start the chain (its prev_hash is not the anchor "
                                             f"{ZERO_HASH[:12]}…)"]
    assert chain_problems(lines[1:], anchor=None, first_seq=None) == []  # an excerpt, when the caller allows it
    changed = lines[1].replace(b"hashed", b"hushed")
    assert chain_problems([lines[0], changed, *lines[2:]]) == [
        "entry 2 was changed after it was written (its content does not give its hash)",
        "entry 3 does not carry the hash of entry 2"]
    assert chain_problems([lines[0], b"{not json\n", *lines[2:]])[0] == "entry 2 is not a JSON object"
    more = link([{"event": "reviewed"}], anchor=entries[-1]["hash"], first_seq=5)
    assert chain_problems([*lines, canonical(more[0])]) == []


def test_canonical_json_is_sorted_compact_and_ascii() -> None:
    assert canonical({"b": 1, "a": ["é", None]}) == b'{"a":["\\u00e9",null],"b":1}'
    assert entry_hash({"a": 1, "hash": "whatever"}) == hashlib.sha256(b'{"a":1}').hexdigest()
    with pytest.raises(ValueError):
        canonical({"a": float("nan")})
