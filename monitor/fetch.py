"""Downloading one URL into the content store, with a timeout and a size cap."""

from __future__ import annotations

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
            return store.add_chunks(response.iter_bytes(), config.media.max_file_bytes)
    except httpx.TooManyRedirects:
        raise MediaError("too many redirects") from None
    except httpx.TimeoutException:
        raise MediaError(f"timed out after {config.fetch.timeout_s:.0f} s") from None
    except httpx.InvalidURL as error:
        raise MediaError(f"invalid URL: {error}") from None
    except httpx.HTTPError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MediaError(f"download failed: {reason}") from None
