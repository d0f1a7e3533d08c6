"""Websites and their deployments: list, one with its history, promote and roll back, redeploy
without cache, settings, delete. Another user's website answers 404."""

from fastapi import APIRouter, Depends, Response

from workers.services import builds, websites
from workers.store.models import User

from .auth import RowId, current_user
from .schemas import Redeploy, Redeployed, WebsiteAnswer, WebsiteChange, WebsiteDeletion, WebsiteList, errors

router = APIRouter(prefix="/api/website-builder/websites", tags=["websites"])


@router.get("", response_model=WebsiteList, responses=errors(401))
def list_websites(user: User = Depends(current_user)) -> dict:
    """Your websites, most recently changed first."""
    return {"success": True, "websites": websites.websites(user)}


@router.get("/{website_id}", response_model=WebsiteAnswer, responses=errors(401, 404))
def website(website_id: RowId, user: User = Depends(current_user)) -> dict:
    """One website with its settings and deployment history, newest first."""
    return {"success": True, "website": websites.website(user, website_id)}


@router.post("/{website_id}/deployments/{job_id}/promote", response_model=WebsiteAnswer, responses=errors(401, 404, 409))
def promote(website_id: RowId, job_id: RowId, user: User = Depends(current_user)) -> dict:
    """Make a completed deployment live without rebuilding (a rollback promotes an older one). 409
    for one that is not completed or whose files were retired."""
    return {"success": True, "website": websites.promote(user, website_id, job_id)}


@router.post("/{website_id}/rollback", response_model=WebsiteAnswer, responses=errors(401, 404, 409))
def rollback(website_id: RowId, user: User = Depends(current_user)) -> dict:
    """Back to the deployment that was live before the current one."""
    return {"success": True, "website": websites.rollback(user, website_id)}


@router.post("/{website_id}/redeploy", status_code=202, response_model=Redeployed, responses=errors(401, 404, 409, 429))
def redeploy(website_id: RowId, body: Redeploy | None = None, user: User = Depends(current_user)) -> dict:
    """Build a deployment's files again (default: the live one's) reusing no cache, as a new deployment."""
    job = builds.redeploy(user, website_id, body.jobId if body else None)
    return {"success": True, "jobId": job.id, "websiteId": website_id}


@router.patch("/{website_id}", response_model=WebsiteAnswer, responses=errors(401, 404, 409, 422))
def update(website_id: RowId, body: WebsiteChange, user: User = Depends(current_user)) -> dict:
    """Rename, change the address (the old one redirects to the new) or switch auto-publish."""
    return {"success": True, "website": websites.update(user, website_id, body.model_dump(exclude_unset=True))}


@router.delete("/{website_id}", status_code=204, responses=errors(401, 404, 409, 422))
def delete(website_id: RowId, body: WebsiteDeletion, user: User = Depends(current_user)) -> Response:
    """Take the website's addresses down and delete its files; `confirm` is its name."""
    websites.delete(user, website_id, body.confirm)
    return Response(status_code=204)
