"""Staydown's notices: each re-upload of a confirmed clone gets a notice like the one its case got.

A re-upload is known (and confirmed) when it is found (:mod:`monitor.pipeline.staydown`); a notice is drafted for
it here, after each crawl and scan at the command line, after each scheduled crawl of `likeness run` that found
something, after a crawl worker's pass, and hourly under `likeness run` and `likeness scheduler`: the basis and
signer of the case's latest notice, to the contact of the host the re-upload is on. A case that had no notice
gets none for its re-uploads: someone decides the first.
"""

from __future__ import annotations

from sqlalchemy import exists, select

from enrollment.errors import LikenessError
from monitor.services.context import Context
from monitor.storage.models import Detection
from monitor.storage.notices import Notice, NoticeDetection


def draft_reupload_notices(ctx: Context) -> dict:
    """Draft the notices re-uploads are owed → ``{"drafted": [NOTICE], "skipped": [{"detection_id",
    "reason"}]}`` (a re-upload whose notice cannot be drafted, with why: one does not stop the others)."""
    from monitor.services.notices import draft_notice

    ctx.require("notices")
    query = (select(Detection.id, Detection.reupload_of_id)
             .where(Detection.reupload_of_id.is_not(None), Detection.status == "confirmed",
                    ~exists().where(NoticeDetection.detection_id == Detection.id)).order_by(Detection.id))
    if (agency_id := ctx.scoped_agency_id()) is not None:
        query = query.where(Detection.agency_id == agency_id)
    with ctx.reading() as session:
        owed = []
        for detection_id, case_id in session.execute(query).all():
            model = session.scalar(select(Notice).join(NoticeDetection, NoticeDetection.notice_id == Notice.id)
                                   .where(NoticeDetection.detection_id == case_id).order_by(Notice.id.desc()).limit(1))
            if model is not None:
                owed.append((detection_id, model.basis, model.signer_email, model.signer_name))
    done: dict = {"drafted": [], "skipped": []}
    for detection_id, basis, signer_email, signer_name in owed:
        try:
            done["drafted"].append(draft_notice(ctx, [detection_id], basis, signer_email, signer_name))
        except LikenessError as refused:
            done["skipped"].append({"detection_id": detection_id, "reason": str(refused)})
    return done


def draft_reupload_notices_job(home: str) -> None:
    """What `likeness run` runs after each crawl that found something, and `likeness run` and `likeness scheduler`
    hourly (module-level: the job store keeps a reference)."""
    import logging

    from monitor.config import load_config
    from monitor.services.context import Actor

    done = draft_reupload_notices(Context(load_config(home), Actor.local("system")))
    for notice in done["drafted"]:
        logging.getLogger(__name__).info("notice %s drafted for the re-upload detection %s", notice["id"],
                                         notice["detection_ids"][0])
    for skipped in done["skipped"]:
        logging.getLogger(__name__).warning("no notice for the re-upload detection %s: %s", skipped["detection_id"],
                                            skipped["reason"])
