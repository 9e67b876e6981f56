"""The WARC records of some URLs, taken out of the crawl's WARC files.

Each record of a ``.warc.gz`` is a gzip member of its own (ISO 28500, annex D), so the requests, and
the responses of pages, are copied byte for byte: bit-identical to those written at crawl time, their
WARC-Block-Digest, dates and record ids still hold. A media response is not copied, so that a bundle
holds the media once: it becomes a ``revisit`` record (profile identical-payload-digest) with the HTTP
headers as received, the original record's id in WARC-Refers-To and its payload digest, which the
bundle's evidence copy of the media matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path

COPY_CHUNK_BYTES = 1 << 20
KEPT_TYPES = {"request", "response", "warcinfo"}


def records_for(warc_paths: Iterable[Path], page_urls: set[str], media_urls: set[str]) -> bytes:
    """The request and response records (and each file's warcinfo, once) whose target is one of the URLs.

    In memory: pages are capped by fetch.max_page_bytes and media responses are reduced to revisits.
    """
    from warcio.archiveiterator import ArchiveIterator

    urls = page_urls | media_urls
    excerpt = bytearray()
    for path in warc_paths:
        spans: list[tuple[int, int] | bytes] = []
        warcinfo: tuple[int, int] | None = None
        try:
            with open(path, "rb") as stream:
                records = ArchiveIterator(stream)
                for record in records:
                    kind, target = record.rec_type, record.rec_headers.get_header("WARC-Target-URI")
                    offset = records.get_record_offset()
                    revisit = _revisit(record) if kind == "response" and target in media_urls else None
                    records.read_to_end(record)
                    span: tuple[int, int] | bytes = revisit or (offset, records.get_record_length())
                    if kind == "warcinfo":
                        warcinfo = span
                    elif kind in KEPT_TYPES and target in urls:
                        spans.append(span)
                if not spans:
                    continue
                for span in ([warcinfo] if warcinfo else []) + spans:
                    if isinstance(span, bytes):
                        excerpt += span
                    else:
                        stream.seek(span[0])
                        excerpt += stream.read(span[1])
        except (OSError, ValueError, EOFError):  # a damaged crawl file: what could be read is kept
            continue
    return bytes(excerpt)


def _revisit(record) -> bytes:  # record: warcio ArcWarcRecord, its payload not yet read
    """A revisit record standing for a media response: same URI, date and HTTP headers, no payload."""
    import io

    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    headers = record.rec_headers
    revisit = writer.create_revisit_record(
        headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Payload-Digest"),
        headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date"), http_headers=record.http_headers)
    revisit.rec_headers.replace_header("WARC-Date", headers.get_header("WARC-Date"))
    # derived from the original record's id, so that exporting twice writes the same bytes
    original_id = headers.get_header("WARC-Record-ID")
    revisit.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, original_id)}>")
    revisit.rec_headers.add_header("WARC-Refers-To", headers.get_header("WARC-Record-ID"))
    if ip := headers.get_header("WARC-IP-Address"):
        revisit.rec_headers.add_header("WARC-IP-Address", ip)
    writer.write_record(revisit)
    return out.getvalue()
