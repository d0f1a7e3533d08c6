"""`GET /api/website-builder/user/usage`: what you have used of your quotas."""

from fastapi import APIRouter, Depends
from pydantic import Field

from workers.services import usage as usage_service
from workers.store.models import User

from .auth import current_user
from .schemas import Open, errors

router = APIRouter(prefix="/api/website-builder", tags=["builds"])
UNLIMITED = "null: no limit (admins, or the quota is off)"


class Usage(Open):
    success: bool = True
    storageUsedBytes: int = Field(description="Your job sources and published sites on disk, hard links counted once.")
    storageAllowedBytes: int | None = Field(description=f"WEBBUILDER_QUOTA_STORAGE_MB; {UNLIMITED}.")
    activeBuilds: int = Field(description="Your builds queued or running.")
    activeBuildsAllowed: int | None = Field(description=f"WEBBUILDER_QUOTA_ACTIVE_BUILDS; {UNLIMITED}.")
    uploadsLastHour: int
    uploadsPerHourAllowed: int | None = Field(description=f"WEBBUILDER_QUOTA_UPLOADS_PER_HOUR; {UNLIMITED}.")
    eventStreamsAllowed: int | None = Field(description=f"Open event streams at once, WEBBUILDER_QUOTA_EVENT_STREAMS; {UNLIMITED}.")


@router.get("/user/usage", response_model=Usage, responses=errors(401))
def user_usage(user: User = Depends(current_user)) -> dict:
    """Storage used / allowed and your other quotas. Past a quota an upload answers 413 (storage) or
    429 (active builds, uploads per hour, with Retry-After), an event stream 429."""
    return {"success": True, **usage_service.usage(user)}
