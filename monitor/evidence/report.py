"""The bundle's readable parts: report.html with its pictures, and a pre-filled declaration (DECLARATION.txt)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from monitor.alerts.pictures import clock
from monitor.evidence.bundle import Member

logger = logging.getLogger(__name__)


@dataclass
class Picture:
    name: str  # inside the bundle, e.g. "report/detection-3-similarity.png"
    data: bytes
    alt: str
    derived_from: str | None = None
    how: str | None = None


@dataclass
class MediaFacts:
    """What the report and the declaration say of one media: its member name, hash, size, where it was found."""

    sha256: str
    member: str
    size_bytes: int
    found: list[str] = field(default_factory=list)  # one line each: "fetched from URL at TIME (server IP)"


@functools.cache
def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("monitor.evidence", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def report_members(analysis: dict, chains: dict[str, list[dict]], media: list[MediaFacts],
                   pictures: dict[int, list[Picture]]) -> list[Member]:
    """report.html and its pictures. ``pictures``: per detection id. Page titles and URLs are escaped."""
    by_sha = {m.sha256: m for m in media}
    detections = []
    for d in analysis["detections"]:
        facts = by_sha[d["media"]["sha256"]]
        detections.append({
            **d, "media_member": facts.member, "sightings": facts.found,
            "segments": [{"start": clock(s["start_s"]), "end": clock(s["end_s"]), "score": s["score"]}
                         for s in d["segments"]],
            "pictures": [{"name": p.name, "alt": p.alt} for p in pictures.get(d["id"], [])],
        })
    references = [{"modality": modality, **r} for modality, rows in analysis["references_compared"].items()
                  for r in rows]
    html = _templates().get_template("report.html.j2").render(
        title=", ".join(sorted({d["performer_name"] for d in analysis["detections"]})),
        tool=analysis["tool"], tool_version=analysis["tool_version"], detections=detections,
        chains=[{"sha256": sha, "member": by_sha[sha].member, "entries": entries} for sha, entries in chains.items()],
        references=references)
    members = [Member(name="report.html", role="report", source=html.encode(), media_type="text/html")]
    for picture in (p for group in pictures.values() for p in group):
        members.append(Member(name=picture.name, role="report", source=picture.data, media_type="image/png",
                              derived_from=picture.derived_from, how=picture.how))
    return members


def declaration_member(tool_version: str, fingerprint: str, media: list[MediaFacts]) -> Member:
    text = _templates().get_template("DECLARATION.txt.j2").render(tool_version=tool_version, fingerprint=fingerprint,
                                                                  media=media)
    return Member(name="DECLARATION.txt", role="declaration", source=text.encode(), media_type="text/plain")


def found_lines(chain: list[dict]) -> list[str]:
    """From a custody chain, one line per place the media was found (fetched or read)."""
    lines = []
    for entry in chain:
        details = entry.get("details", {})
        if entry.get("event") == "fetched":
            server = f", server {details['server_ip']}" if details.get("server_ip") else ""
            status = f", HTTP {details['status']}" if details.get("status") else ""
            lines.append(f"fetched from {details.get('url')} at {entry['at']}{status}{server}"
                         + (f" (found on {details['page_url']})" if details.get("page_url") else ""))
        elif entry.get("event") == "read":
            lines.append(f"read from the file {details.get('path')} at {entry['at']} by {details.get('read_by')} "
                         f"(size {details.get('size_bytes')} bytes, modified {details.get('modified_at')})")
    return lines
