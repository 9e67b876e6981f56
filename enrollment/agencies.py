"""Agencies: the tenants. Found by name, added, and the one an install that names none works in.

An install used by one agency never has to name it: where no agency is named, the only one is meant, and
the first is made (``default``) when there is none yet. With several, the caller must name one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enrollment.errors import LikenessError, NotFound
from enrollment.models import Agency

DEFAULT_AGENCY_NAME = "default"
MAX_NAME_CHARS = 200


class AgencyUnnamed(LikenessError):
    """Several agencies exist and the operation must belong to one of them."""


def clean_name(name: str) -> str:
    """An agency's name as stored: stripped, printable, 1–200 characters; else ValueError."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_CHARS or not cleaned.isprintable():
        raise ValueError(f"an agency's name must be printable text of 1 to {MAX_NAME_CHARS} characters")
    return cleaned


def find_agency(session: Session, name: str) -> Agency:
    """The agency named ``name``; NotFound with the way to list them otherwise."""
    agency = session.scalar(select(Agency).where(Agency.name == name.strip()))
    if agency is None:
        raise NotFound(f"no agency named {name.strip()!r} (see `likeness agency list`)")
    return agency


def add_agency(session: Session, name: str) -> Agency:
    """A new agency; ValueError when the name is taken or not a name."""
    cleaned = clean_name(name)
    if session.scalar(select(Agency.id).where(Agency.name == cleaned)) is not None:
        raise ValueError(f"an agency named {cleaned!r} exists already")
    agency = Agency(name=cleaned)
    session.add(agency)
    session.flush()
    return agency


def agency_for(session: Session, name: str | None = None, create: bool = False) -> Agency:
    """The agency an operation belongs to: the one named (made first when ``create``), else the only one
    (``default``, made where there is none); AgencyUnnamed when several exist and none is named."""
    if name is not None and name.strip():
        cleaned = clean_name(name)
        agency = session.scalar(select(Agency).where(Agency.name == cleaned))
        if agency is None and create:
            return add_agency(session, cleaned)
        return agency if agency is not None else find_agency(session, cleaned)
    count = session.scalar(select(func.count()).select_from(Agency))
    if count == 0:
        return add_agency(session, DEFAULT_AGENCY_NAME)
    if count > 1:
        raise AgencyUnnamed(f"{count} agencies share this install: name one with --agency NAME "
                            "(see `likeness agency list`)")
    return session.scalars(select(Agency)).one()
