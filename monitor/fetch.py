"""Downloading one URL into the content store, with a timeout and a size cap."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from enrollment.errors import MediaError
from monitor.config import Config
from monitor.store import ContentStore


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in {"http", "https"}


def download(url: str, store: ContentStore, config: Config) -> tuple[str, int]:
    """Fetch ``url`` into ``store``; returns (sha256, size). Failures raise a one-line MediaError."""
    import httpx

    timeout = httpx.Timeout(config.fetch.timeout_s)
    headers = {"User-Agent": config.fetch.user_agent}
    try:
        with (
            httpx.Client(timeout=timeout, headers=headers, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise MediaError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
            declared = int(response.headers.get("content-length") or 0)
            if declared > config.media.max_file_bytes:
                raise MediaError(
                    f"download is {declared:,} bytes; the limit is media.max_file_bytes = "
                    f"{config.media.max_file_bytes:,}"
                )
            chunks = _until(response.iter_bytes(), config.fetch.max_total_s)
            return store.add_chunks(chunks, config.media.max_file_bytes)
    except httpx.TooManyRedirects:
        raise MediaError("too many redirects") from None
    except httpx.TimeoutException:
        raise MediaError(f"timed out after {config.fetch.timeout_s:g} s") from None
    except httpx.InvalidURL as error:
        raise MediaError(f"invalid URL: {_reason(error)}") from None
    except httpx.UnsupportedProtocol as error:  # "http://" alone, or a redirect to another scheme
        raise MediaError(
            "invalid URL: no host name" if not urlsplit(url).hostname else f"download failed: {_reason(error)}"
        ) from None
    except httpx.ConnectError as error:
        raise MediaError(f"cannot connect to {urlsplit(url).netloc}: {_reason(error)}") from None
    except httpx.HTTPError as error:
        raise MediaError(f"download failed: {_reason(error)}") from None


def _until(chunks: Iterator[bytes], max_total_s: float) -> Iterator[bytes]:
    """The chunks, until ``max_total_s`` have passed: a server trickling a byte at a time can't hold a scan."""
    deadline = time.monotonic() + max_total_s
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise MediaError(f"download took longer than fetch.max_total_s = {max_total_s:g} s")
        yield chunk


def _reason(error: Exception) -> str:
    """The first line of an error, without the "[Errno 111] " that socket errors start with."""
    reason = (str(error).splitlines() or [""])[0]
    return re.sub(r"^\[Errno -?\d+\] ", "", reason) or type(error).__name__
