"""Allow-lists: where a performer's voice or likeness is licensed or otherwise authorised to appear.

A rule names one place (``kind``): a ``domain`` (the host and its subdomains), a ``url_prefix`` (a channel, a
folder of a site), or a ``licensee`` (a name, matched against the signer of the media's Content Credentials
and the title of the page it was found on), with an optional validity window and a note. A detection whose
every sighting by its agency falls under one active rule of its performer is authorised by it; one seen
anywhere else too is not.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from enrollment.models import Base, UTCDateTime, utc_now

KINDS = ("domain", "url_prefix", "licensee")


class AllowRule(Base):
    __tablename__ = "allow_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    performer_id: Mapped[int] = mapped_column(ForeignKey("performers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    created_by: Mapped[str] = mapped_column(String(320))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the detections it covered were given back to review, its window having passed (once)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def active(self, now: datetime) -> bool:
        return (self.revoked_at is None and (self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))

    def covers(self, url: str, page_url: str | None, page_title: str | None, signer: str | None) -> bool:
        """Whether one sighting (the media's URL, its page and title; the media's credentials' signer) falls
        under this rule."""
        if self.kind == "licensee":
            name = self.value.casefold()
            return any(name in (text or "").casefold() for text in (signer, page_title))
        places = [place for place in (url, page_url) if place]
        if self.kind == "url_prefix":
            return any(place.startswith(self.value) for place in places)
        hosts = [(urlsplit(place).hostname or "").rstrip(".") for place in places]
        return any(host == self.value or host.endswith("." + self.value) for host in hosts)
