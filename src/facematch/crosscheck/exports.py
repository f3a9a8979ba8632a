"""The cross-check written out: pairs, duplicates, groups and decisions as CSV and JSON lines, each file
beginning with the caveat (candidates, not matches)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import csvcells, messages
from .review import CrossCheck, Pair

EXPORT_FIELDS = (
    "pair", "kind", "score", "cosine", "expected_strangers", "band", "mutual", "collection_a", "collection_b",
    "photo_a", "sha256_a", "box_a", "photo_b", "sha256_b", "box_b", "reasons", "duplicate", "copies_folded",
    "low_quality_a", "low_quality_b", "decision", "reviewer", "decided_at", "why",
)  # fmt: skip


def pair_row(p: Pair, group: int | None = None) -> dict:
    d = p.decision or {}
    row = {
        "pair": p.id, "kind": p.kind, "score": round(p.score, 4), "cosine": round(p.cosine, 4),
        "expected_strangers": None if p.expected_strangers is None else float(f"{p.expected_strangers:.3g}"),
        "band": p.band, "mutual": p.mutual, "collection_a": p.collections[0], "collection_b": p.collections[1],
        "photo_a": p.a.relpath, "sha256_a": p.a.sha256, "box_a": list(p.a.box),
        "photo_b": p.b.relpath, "sha256_b": p.b.sha256, "box_b": list(p.b.box),
        "reasons": list(p.reasons), "duplicate": p.duplicate, "copies_folded": p.copies,
        "low_quality_a": p.quality[0].tags() if p.quality else [],
        "low_quality_b": p.quality[1].tags() if p.quality else [],
        "decision": d.get("decision"), "reviewer": d.get("reviewer"),
        "decided_at": None if not d else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(d["decided_at"])),
        "why": d.get("note"),
    }  # fmt: skip
    if group is not None:
        row = {"group": group, **row}
    return row


def export(cc: CrossCheck, out_dir: Path) -> dict[str, Path]:
    """pairs, duplicates, groups and decisions as CSV and JSON lines, each beginning with the caveat."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict]] = {
        "pairs": [pair_row(p) for p in cc.pairs()],
        "duplicates": [pair_row(p) for p in cc.duplicates()],
        "groups": [pair_row(p, g) for g, group in enumerate(cc.groups(), start=1) for p in group],
        "decisions": [
            {**{k: v for k, v in d.items() if k != "shown"}, "shown": list(d["shown"]),
             "decided_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(d["decided_at"]))}
            for d in cc.log()
        ],
    }  # fmt: skip
    written: dict[str, Path] = {}
    for name, rows in tables.items():
        fields = list(rows[0]) if rows else (["group", *EXPORT_FIELDS] if name == "groups" else list(EXPORT_FIELDS))
        path = out_dir / f"crosscheck-{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            fh.write(f"# {messages.full_link_caveat()}\n")
            w = csvcells.writer(fh)  # a note or file name beginning with = is text, never a formula
            w.writerow([messages.column(f) for f in fields])  # the reader's language; the JSON keeps English keys
            for r in rows:
                w.writerow(
                    [json.dumps(v, ensure_ascii=False) if isinstance(v, list | tuple) else v for v in
                     (r.get(f) for f in fields)]
                )  # fmt: skip
        written[f"{name}.csv"] = path
        path = out_dir / f"crosscheck-{name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps({"caveat": messages.full_link_caveat()}, ensure_ascii=False) + "\n")
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False, default=list) + "\n")
        written[f"{name}.jsonl"] = path
    return written
