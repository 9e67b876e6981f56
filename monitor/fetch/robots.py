"""robots.txt rules of one origin, as RFC 9309 says to read them (parsed with urllib.robotparser)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.robotparser import RobotFileParser

# RFC 9309 §2.5: crawlers must parse at least the first 500 KiB of a robots.txt.
ROBOTS_MAX_BYTES = 500 * 1024
_FRACTIONAL_DELAY = re.compile(r"^(\s*crawl-delay\s*:\s*)(\d*\.\d+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class RobotsRules:
    """What one origin's robots.txt allows.

    ``blocked_reason``: set when everything is disallowed because the file could not be read
    (server error, unreachable); ``crawl_delay_s``: the Crawl-delay for our user agent, in seconds.
    """

    parser: RobotFileParser | None = None
    blocked_reason: str | None = None
    crawl_delay_s: float | None = None
    sitemaps: list[str] = field(default_factory=list)

    @classmethod
    def allow_all(cls) -> RobotsRules:
        return cls()

    @classmethod
    def disallow_all(cls, reason: str) -> RobotsRules:
        return cls(blocked_reason=reason)

    @classmethod
    def from_response(cls, status: int | None, body: bytes, error: str | None, user_agent: str) -> RobotsRules:
        """Rules from the fetch of ``/robots.txt`` (after redirects).

        2xx: the file's rules. 4xx other than 429: no robots.txt, everything allowed (RFC 9309 §2.3.1.3).
        5xx, 429, a network failure, a refusal or too many redirects: the file is unreachable and
        everything is disallowed for this run (§2.3.1.4; the conservative choice for redirects too).
        """
        if status is not None and 200 <= status < 300:
            return cls.parse(body.decode("utf-8", errors="replace"), user_agent)
        if status is not None and 400 <= status < 500 and status != 429:
            return cls.allow_all()
        return cls.disallow_all(f"robots.txt could not be fetched: {error or f'HTTP {status}'}")

    @classmethod
    def parse(cls, text: str, user_agent: str) -> RobotsRules:
        """Parse robots.txt text. A fractional Crawl-delay ("0.5"), which robotparser ignores, is rounded up."""
        text = _FRACTIONAL_DELAY.sub(lambda m: f"{m[1]}{math.ceil(float(m[2]))}", text)
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        delay = parser.crawl_delay(user_agent)
        return cls(parser=parser, crawl_delay_s=float(delay) if delay else None, sitemaps=parser.site_maps() or [])

    def allows(self, url: str, user_agent: str) -> bool:
        if self.blocked_reason is not None:
            return False
        return self.parser is None or self.parser.can_fetch(user_agent, url)

    def refusal(self, url: str, user_agent: str) -> str | None:
        """The one-line reason ``url`` may not be fetched ("blocked by robots.txt ..."), or None."""
        if self.allows(url, user_agent):
            return None
        return "blocked by robots.txt" + (f" ({self.blocked_reason})" if self.blocked_reason else "")
