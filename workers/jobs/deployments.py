"""Websites and their deployments: what goes live, promote and roll back, and what users read of
them. Each build job of a website is a deployment; `Website.live_job_id` is the one its stable
address serves, and moving it is the only way a deployment goes live (`move_live`), recorded in
`promotions` with who did it.

Every function that acts for a user takes the acting user's id and checks the website is theirs.
"""

from __future__ import annotations

from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, desc, func, select

from workers.config import settings
from workers.errors import UserError
from workers.jobs import retention, slugs
from workers.jobs.ownership import check_name, owned_website
from workers.notify import deliveries
from workers.notify.bell import notify
from workers.store import events
from workers.store.events import Change, Notice
from workers.store.models import BuildJob, JobStatus, Promotion, User, Website, iso, utcnow

HISTORY_LIMIT = 100  # deployments a website page lists


def website_url(website: Website) -> str:
    return settings().preview_url(website.slug)


def page_path(website: Website) -> str:
    return f"/websites/{website.id}"


# --- going live ----------------------------------------------------------------------------------

def move_live(session: Session, website: Website, job: BuildJob, *, if_newer: bool = False) -> bool:
    """Point the website's stable address at `job` (completed, files kept), in the caller's
    transaction. With `if_newer` (a build that just finished) only when auto-publish is on and no
    newer deployment is live, decided by the UPDATE itself, so two builds finishing at once cannot
    leave the older one live. Returns whether it moved; then the caller calls `went_live`."""
    table = Website.__table__
    change = update(table).where(table.c.id == website.id, table.c.deleted_at.is_(None))
    if if_newer:
        change = change.where(table.c.auto_publish.is_(True), or_(table.c.live_job_id.is_(None), table.c.live_job_id < job.id))
    if session.connection().execute(change.values(live_job_id=job.id, updated_at=utcnow())).rowcount != 1:
        return False
    set_committed_value(website, "live_job_id", job.id)
    return True


def went_live(session: Session, website: Website, job: BuildJob, by_user_id: int | None) -> None:
    """What follows a move: the history, the `deployment.promoted` webhooks, retention, and the
    notice on which every web process drops its cached lookup (after the commit)."""
    session.add(Promotion(website_id=website.id, job_id=job.id, user_id=by_user_id))
    deliveries.record(session, job, "promoted")
    retention.retire_beyond_kept(session, website)
    events.after_commit(session, Notice(Change.WEBSITE, website.user_id, job.id, website.id))


def completed(session: Session, job: BuildJob, website: Website, detail: str) -> None:
    """A deployment finished building (by a build, or an identical one's output): it goes live
    unless the website waits for Promote, or a newer deployment is live already. Then its notice,
    whose deliveries go before the promotion's."""
    url = website_url(website)
    if move_live(session, website, job, if_newer=True):
        notify(session, job, "completed", f"{website.name} is live at {url}", detail, url)
        went_live(session, website, job, None)
        return
    auto_publish = session.exec(select(Website.auto_publish).where(Website.id == website.id)).one()
    why = "auto-publish is off" if not auto_publish else "a newer deployment is live"
    notify(session, job, "completed", f"{website.name} is ready to promote", f"{detail} Not live: {why}.", page_path(website))
    retention.retire_beyond_kept(session, website)


def promote(session: Session, user_id: int, website_id: int, job_id: int) -> Website:
    """Make one of the website's completed deployments live (a rollback promotes an older one)."""
    website = owned_website(session, user_id, website_id)
    job = session.get(BuildJob, job_id)
    if job is None or job.website_id != website.id:
        raise UserError("Deployment not found.", 404)
    if job.retired_at is not None:
        raise UserError(f"Deployment {job.id} was retired: only the newest {settings().keep_deployments} keep their files.", 409)
    if job.status != JobStatus.COMPLETED:
        raise UserError(f"Only a completed deployment can go live; this one is {job.status}.", 409)
    if website.live_job_id != job.id and move_live(session, website, job):
        went_live(session, website, job, user_id)
    return website


def rollback(session: Session, user_id: int, website_id: int) -> Website:
    """Back to the deployment that was live before the current one (still kept)."""
    website = owned_website(session, user_id, website_id)
    earlier = session.exec(
        select(BuildJob)
        .join(Promotion, col(Promotion.job_id) == BuildJob.id)
        .where(Promotion.website_id == website.id, BuildJob.id != website.live_job_id, col(BuildJob.retired_at).is_(None),
               BuildJob.status == JobStatus.COMPLETED)
        .order_by(desc(Promotion.created_at), desc(Promotion.id))
        .limit(1)
    ).first()
    if earlier is None:
        raise UserError("There is no earlier live deployment to roll back to.", 409)
    return promote(session, user_id, website_id, earlier.id)


# --- settings and deletion -----------------------------------------------------------------------

def change_settings(session: Session, user_id: int, website_id: int, changes: dict) -> Website:
    """Rename, re-address or switch auto-publish. An old address keeps redirecting to the new one."""
    website = owned_website(session, user_id, website_id)
    if "name" in changes and changes["name"] is not None:
        website.name = check_name(changes["name"])
    if "slug" in changes and changes["slug"] is not None and changes["slug"] != website.slug:
        slugs.assign(session, website, str(changes["slug"]))
    if "autoPublish" in changes and changes["autoPublish"] is not None:
        if not isinstance(changes["autoPublish"], bool):
            raise UserError("autoPublish must be true or false.", 422)
        website.auto_publish = changes["autoPublish"]
    website.updated_at = utcnow()
    events.after_commit(session, Notice(Change.WEBSITE, website.user_id, None, website.id))
    return website


def delete(session: Session, user_id: int, website_id: int, confirm: str) -> None:
    """Take the website's addresses down and free its disk; `confirm` must be its name or slug.
    Its rows stay (the history, the ops figures) and its slugs stay taken."""
    website = owned_website(session, user_id, website_id)
    if confirm.strip() not in (website.name, website.slug):
        raise UserError(f'Type the website\'s name ("{website.name}") to delete it.', 422)
    active = session.exec(select(func.count()).select_from(BuildJob).where(
        BuildJob.website_id == website.id, col(BuildJob.status).in_((JobStatus.PENDING, JobStatus.QUEUED, JobStatus.BUILDING, JobStatus.RUNNING)))).one()
    if active:
        raise UserError("A deployment of this website is still queued or building: cancel it first.", 409)
    website.deleted_at = website.updated_at = utcnow()
    website.live_job_id = None
    retention.retire(session, session.exec(select(BuildJob).where(BuildJob.website_id == website.id, col(BuildJob.retired_at).is_(None))).all())
    events.after_commit(session, Notice(Change.WEBSITE, website.user_id, None, website.id))


# --- reading -------------------------------------------------------------------------------------

def website_view(session: Session, website: Website) -> dict:
    """A website as the list shows it."""
    newest = session.get(BuildJob, website.build_job_id) if website.build_job_id else None
    count = session.exec(select(func.count()).select_from(BuildJob).where(BuildJob.website_id == website.id)).one()
    return {
        "id": website.id,
        "name": website.name,
        "slug": website.slug,
        "url": website_url(website),
        "liveJobId": website.live_job_id,
        "autoPublish": website.auto_publish,
        "lastStatus": newest.status if newest else None,
        "lastJobId": newest.id if newest else None,
        "updatedAt": iso(website.updated_at),
        "deploymentCount": count,
    }


def websites(session: Session, user_id: int) -> list[dict]:
    rows = session.exec(
        select(Website).where(Website.user_id == user_id, col(Website.deleted_at).is_(None)).order_by(desc(Website.updated_at), desc(Website.id))
    ).all()
    return [website_view(session, website) for website in rows]


def website_detail(session: Session, user_id: int, website_id: int) -> dict:
    """The website with its settings and its deployments, newest first."""
    website = owned_website(session, user_id, website_id)
    jobs = session.exec(
        select(BuildJob).where(BuildJob.website_id == website.id).order_by(desc(BuildJob.id)).limit(HISTORY_LIMIT)
    ).all()
    promoted = _last_promotions(session, website.id)
    view = website_view(session, website)
    view["settings"] = {"autoPublish": website.auto_publish, **(website.settings or {})}
    view["deployments"] = [_deployment_view(job, website, promoted.get(job.id)) for job in jobs]
    return view


def _last_promotions(session: Session, website_id: int) -> dict[int, tuple]:
    """Each deployment's latest making-live: (when, by whom; None for auto-publish)."""
    rows = session.exec(
        select(Promotion.job_id, Promotion.created_at, User.username)
        .join(User, col(User.id) == Promotion.user_id, isouter=True)
        .where(Promotion.website_id == website_id)
        .order_by(Promotion.created_at, Promotion.id)
    ).all()
    return {job_id: (when, who) for job_id, when, who in rows}


def _deployment_view(job: BuildJob, website: Website, promotion: tuple | None) -> dict:
    when, who = promotion or (None, None)
    return {
        "jobId": job.id,
        "status": job.status,
        "message": job.message,
        "createdAt": iso(job.created_at),
        "completedAt": iso(job.completed_at),
        "previewUrl": job.preview_url,
        "live": job.id == website.live_job_id,
        "promotedAt": iso(when),
        "promotedBy": who if who else ("auto-publish" if promotion else None),
        "retired": job.retired_at is not None,
        "error": (job.error or "").splitlines()[0][:300] if job.error else None,
    }
