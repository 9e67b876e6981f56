"""One HTTP exchange as it happened: what the crawl log, the WARC writer and evidence bundles keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Exchange:
    """One request as it happened (after redirects), kept for the crawl log and as evidence.

    ``headers``: the final response's headers, names lower-cased (repeated headers joined by ", ").
    ``request_headers``: the headers sent on the final hop. ``fetched_at``: UTC time the final hop
    started. ``elapsed_s``: seconds on the network over all hops (not counting politeness waits).
    ``body``: pages only; ``sha256`` / ``size_bytes`` (bytes): media only, once stored.
    ``redirects``: the URLs that answered with a redirect, in order; ``final_url`` is the last URL asked.
    ``error``: why the fetch failed or was refused (one line), else None; a 304 is not an error.
    ``tls_certificate``: the final server's leaf certificate, DER, for https (Python 3.11 gives no chain).
    """

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed_s: float = 0.0
    body: bytes = b""
    sha256: str | None = None
    size_bytes: int | None = None
    not_modified: bool = False
    truncated: bool = False
    error: str | None = None
    redirects: list[str] = field(default_factory=list)
    server_ip: str | None = None
    tls_certificate: bytes | None = field(default=None, repr=False)  # the server's certificate (DER), https only

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")
