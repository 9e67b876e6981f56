"""Evidence: an HTTP exchange appended to a WARC file (ISO 28500), readable by any web-archive tool."""

from __future__ import annotations

import io
import re
import socket
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from yarl import URL

if TYPE_CHECKING:
    from monitor.fetch.exchange import Exchange


def crawl_warc_path(folder: Path, what: str = "crawl") -> Path:
    """A new WARC file for one crawl (or one run of ``what`` else), named by time and machine (several machines'
    crawls meet in one bucket)."""
    machine = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "host"
    return folder / f"{what}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{machine}.warc.gz"


def write_warc(exchange: Exchange, warc_path: Path, payload: bytes | Path | None = None) -> None:
    """Append a request and a response record for ``exchange`` to the WARC file ``warc_path`` (.warc.gz).

    ``payload``: the response body: bytes, a file (a stored media file, streamed, never loaded whole),
    or None for ``exchange.body``. A new file starts with a warcinfo record. The body is kept as
    received after content decoding, so Content-Length is set to its true length, and the received
    Content-Encoding, Transfer-Encoding and a different Content-Length are kept as ``X-Original-*``.
    A truncated page is marked ``WARC-Truncated: length``. Blocking (run it with asyncio.to_thread for
    big media); not safe for two processes appending to one file at once.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    if exchange.status is None:
        raise ValueError(f"nothing was received from {exchange.url} to archive ({exchange.error})")
    payload = exchange.body if payload is None else payload
    length = payload.stat().st_size if isinstance(payload, Path) else len(payload)
    framing = ("content-encoding", "transfer-encoding", "content-length")
    headers = [(name, value) for name, value in exchange.headers.items() if name not in framing]
    headers += [(f"X-Original-{name.title()}", value) for name in framing
                if (value := exchange.headers.get(name)) is not None and value != str(length)]
    headers.append(("Content-Length", str(length)))
    try:
        phrase = HTTPStatus(exchange.status).phrase
    except ValueError:  # a status code Python does not know (599, ...)
        phrase = ""
    date = exchange.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request_line = f"GET {URL(exchange.final_url).raw_path_qs} HTTP/1.1"
    warc_path.parent.mkdir(parents=True, exist_ok=True)
    is_new = not warc_path.exists() or warc_path.stat().st_size == 0
    body_stream = open(payload, "rb") if isinstance(payload, Path) else io.BytesIO(payload)  # noqa: SIM115
    with open(warc_path, "ab") as out, body_stream as body:
        writer = WARCWriter(out, gzip=True)
        if is_new:
            writer.write_record(writer.create_warcinfo_record(warc_path.name, {"software": "likeness-monitor"}))
        request = writer.create_warc_record(
            exchange.final_url, "request", payload=io.BytesIO(b""), length=0, warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(request_line, list(exchange.request_headers.items()), is_http_request=True))
        extra = {"WARC-Date": date, "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID")}
        if exchange.server_ip:
            extra["WARC-IP-Address"] = exchange.server_ip
        if exchange.truncated:
            extra["WARC-Truncated"] = "length"
        response = writer.create_warc_record(
            exchange.final_url, "response", payload=body, length=length, warc_headers_dict=extra,
            http_headers=StatusAndHeaders(f"{exchange.status} {phrase}".rstrip(), headers, protocol="HTTP/1.1"))
        writer.write_record(request)
        writer.write_record(response)
