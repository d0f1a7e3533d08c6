"""Request and response bodies as they appear in the OpenAPI document.

The engine (workers/) builds the camelCase dicts; these models describe them for the docs and for
schema-driven clients. Response models allow extra keys, so a field the engine adds later is passed
through instead of silently dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workers.services.builds import JobView


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    success: bool = False
    message: str = Field(description="What went wrong, in words meant for the user.")


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])
    password: str = Field(min_length=1, max_length=1024, examples=["correct horse battery"])


class NewAccount(BaseModel):
    """The rules are documented here and enforced by workers.accounts.users, whose messages are clearer."""

    username: str = Field(max_length=64, examples=["alice"], json_schema_extra={"pattern": r"^[A-Za-z0-9_.-]{3,32}$"},
                          description="3–32 letters, digits, '.', '_' or '-'")
    password: str = Field(max_length=1024, examples=["correct horse battery"], json_schema_extra={"minLength": 8})


class UserView(Open):
    id: int
    username: str
    isAdmin: bool
    createdAt: str


class SignedIn(Open):
    success: bool = True
    token: str = Field(description="Bearer token: send `Authorization: Bearer <token>`.")
    user: UserView


class Done(Open):
    success: bool = True


class HandoffCode(BaseModel):
    code: str = Field(min_length=1, max_length=100, description="The one-time code the sign-in form handed the page.")


class PasswordChange(BaseModel):
    currentPassword: str = Field(min_length=1, max_length=1024)
    newPassword: str = Field(max_length=1024, json_schema_extra={"minLength": 8})


class SessionView(Open):
    id: int
    client: str = Field(description="The program and address that signed in.")
    createdAt: str
    lastUsedAt: str | None
    current: bool = Field(description="Whether this request was made with this session.")


class SessionList(Open):
    success: bool = True
    sessions: list[SessionView]


class SessionsEnded(Open):
    success: bool = True
    ended: int = Field(description="How many sign-in sessions ended.")


class NewTokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["github-actions"],
                      json_schema_extra={"pattern": r"^[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$"})


class TokenView(Open):
    id: int
    name: str
    createdAt: str
    lastUsedAt: str | None


class NewToken(TokenView):
    token: str = Field(description="The token itself; shown only in this response.")


class TokenList(Open):
    success: bool = True
    tokens: list[TokenView]


class JobDetail(JobView):
    success: bool = True
    logs: list[str]


class Queue(Open):
    success: bool = True
    activeJobs: list[JobView]
    completedJobs: list[JobView] = Field(description="The last 10 finished jobs, newest first.")
    totalActive: int


class NotificationView(Open):
    id: int
    jobId: int | None
    type: str
    title: str
    message: str
    actionUrl: str | None
    read: bool
    createdAt: str | None


class Notifications(Open):
    success: bool = True
    notifications: list[NotificationView] = Field(description="The last 50, newest first.")
    unreadCount: int


class Updated(Open):
    success: bool = True
    updated: int = Field(description="How many notifications changed from unread to read.")


class UploadedWebsite(Open):
    id: int
    name: str
    type: str
    buildJobId: int
    slug: str = Field(description="The website's stable address label.")
    url: str = Field(description="The website's stable address: it serves the live deployment.")


class Uploaded(Open):
    success: bool = True
    website: UploadedWebsite
    queuePosition: int | None
    message: str


class Cancelled(Open):
    success: bool = True
    jobId: int
    status: str
    cancelRequested: bool


class Retried(Open):
    success: bool = True
    jobId: int
    websiteId: int
    retryOf: int


class WebsiteView(Open):
    id: int
    name: str
    slug: str
    url: str = Field(description="The stable address, http://<slug>.<preview domain>/: serves the live deployment.")
    liveJobId: int | None = Field(description="The deployment the stable address serves; null before the first goes live.")
    autoPublish: bool = Field(description="A successful build goes live at once; off: it waits for promote.")
    lastStatus: str | None = Field(description="The newest deployment's status.")
    lastJobId: int | None
    updatedAt: str | None
    deploymentCount: int


class WebsiteList(Open):
    success: bool = True
    websites: list[WebsiteView] = Field(description="Most recently changed first.")


class DeploymentView(Open):
    jobId: int
    status: str
    message: str | None
    createdAt: str | None
    completedAt: str | None
    previewUrl: str | None = Field(description="The deployment's own address (serves exactly what it built).")
    live: bool
    promotedAt: str | None = Field(description="When it last went live.")
    promotedBy: str | None = Field(description="Who made it live then: a username, or auto-publish.")
    retired: bool = Field(description="Its files were deleted (retention): its address answers 410.")
    error: str | None


class WebsiteDetail(WebsiteView):
    settings: dict[str, Any]
    deployments: list[DeploymentView] = Field(description="Newest first (the last 100).")


class WebsiteAnswer(Open):
    success: bool = True
    website: WebsiteDetail


class WebsiteChange(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    slug: str | None = Field(default=None, max_length=63, description="A new address; the old one keeps redirecting here.")
    autoPublish: bool | None = None


class WebsiteDeletion(BaseModel):
    confirm: str = Field(description="The website's name, typed by the user.")


class Redeployed(Open):
    success: bool = True
    jobId: int = Field(description="The new deployment's job.")
    websiteId: int


class Redeploy(BaseModel):
    jobId: int | None = Field(default=None, description="The deployment whose files to build again (default: the live one).")


class NewWebhookRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2000, examples=["https://example.com/hooks/webbuilder"],
                     description="An http:// or https:// URL; it receives a signed POST when a build completes or fails.")
    enabled: bool = True


class WebhookUpdate(BaseModel):
    enabled: bool = Field(description="false: nothing is sent to it until it is enabled again.")


class WebhookView(Open):
    id: int
    url: str
    enabled: bool
    createdAt: str


class NewWebhook(WebhookView):
    success: bool = True
    secret: str = Field(description="The signing secret (X-Webbuilder-Signature); shown only in this response.")


class WebhookList(Open):
    success: bool = True
    webhooks: list[WebhookView]


class DeliveryView(Open):
    id: int
    webhookId: int | None = Field(description="null for an email")
    channel: str = Field(description="webhook | email")
    event: str = Field(description="build.completed | build.failed | ping")
    jobId: int | None
    target: str = Field(description="the URL or email address it was sent to")
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    responseCode: int | None = Field(description="the receiver's HTTP status (SMTP reply code for emails) at the last attempt")
    error: str | None = Field(description="why the last attempt failed")
    nextAttemptAt: str | None = Field(description="when a pending delivery is tried next")
    createdAt: str
    deliveredAt: str | None


class DeliveryList(Open):
    success: bool = True
    deliveries: list[DeliveryView] = Field(description="The last 20, newest first.")


class PingSent(Open):
    success: bool = True
    delivered: bool = Field(description="The receiver answered 2xx.")
    statusCode: int | None = Field(description="The receiver's HTTP status; null if it could not be reached.")
    delivery: DeliveryView


class NotificationSettingsRequest(BaseModel):
    email: str | None = Field(max_length=254, examples=["you@example.com"], description="null: no address")
    emailNotifications: bool = Field(description="Email me when a build completes or fails (needs an address).")


class NotificationSettings(Open):
    success: bool = True
    email: str | None
    emailNotifications: bool
    emailAvailable: bool = Field(description="false: this server has no SMTP server configured and sends no emails.")
    emailVerified: bool = Field(description="The address was confirmed through the link mailed to it; build emails go only then.")
    verificationSentAt: str | None = Field(description="When the confirmation link that still works (24 h) was sent; null: none.")


class EmailConfirmation(BaseModel):
    code: str = Field(min_length=1, max_length=100, description="The `code` of the link in the confirmation email.")


class EmailConfirmed(Open):
    success: bool = True
    email: str = Field(description="The address now confirmed.")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the refusals a route can answer with (always JSON, even on
    routes whose success is plain text)."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {status: {"model": ErrorBody, "content": {"application/json": {"schema": schema}}} for status in statuses}
