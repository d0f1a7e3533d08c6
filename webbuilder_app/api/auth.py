"""Register, sign in, sign out, API tokens; the bearer-token dependency every other route uses."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workers import accounts
from workers.client_address import client_address
from workers.config import settings
from workers.db import session_scope
from workers.models import User

from .schemas import Credentials, Done, NewAccount, NewToken, NewTokenRequest, SignedIn, TokenList, errors

router = APIRouter(prefix="/api/auth", tags=["auth"])
bearer = HTTPBearer(auto_error=False, description="A sign-in token or an API token.")
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


def current_user(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    with session_scope() as session:
        user = accounts.user_for_token(session, _token(credentials))
    if user is None:
        raise HTTPException(401, "Sign in first: send Authorization: Bearer <token>.", headers={"WWW-Authenticate": "Bearer"})
    return user


def user_view(user: User) -> dict:
    return {"id": user.id, "username": user.username, "isAdmin": user.is_admin, "createdAt": user.created_at.isoformat()}


@router.post("/register", status_code=201, response_model=SignedIn, responses=errors(400, 409, 422))
def register(body: NewAccount) -> dict:
    """Create an account and sign it in."""
    with session_scope() as session:
        user = accounts.register(session, body.username, body.password)
        token = accounts.issue_token(session, user)
        return {"success": True, "token": token, "user": user_view(user)}


@router.post("/login", response_model=SignedIn, responses=errors(400, 401, 422, 429))
def login(body: Credentials, request: Request) -> dict:
    """Sign in. After 10 failures in 5 minutes for one username from one address: 429 with Retry-After."""
    peer = request.client.host if request.client else ""
    forwarded_for = ",".join(request.headers.getlist("x-forwarded-for"))
    client = client_address(peer, forwarded_for, settings().trusted_proxies)
    with session_scope() as session:
        user = accounts.authenticate(session, body.username, body.password, client=client)
        token = accounts.issue_token(session, user)
        return {"success": True, "token": token, "user": user_view(user)}


@router.post("/logout", response_model=Done, responses=errors(401))
def logout(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], _user: User = Depends(current_user)) -> dict:
    """Revoke the token this request was made with."""
    with session_scope() as session:
        accounts.revoke_token(session, _token(credentials))
    return {"success": True}


@router.get("/tokens", response_model=TokenList, responses=errors(401))
def list_tokens(user: User = Depends(current_user)) -> dict:
    """The API tokens you created that are not revoked (never the token values)."""
    with session_scope() as session:
        return {"success": True, "tokens": [accounts.token_view(row) for row in accounts.api_tokens(session, user.id)]}


@router.post("/tokens", status_code=201, response_model=NewToken, responses=errors(400, 401, 422))
def create_token(body: NewTokenRequest, user: User = Depends(current_user)) -> dict:
    """Create a named API token for a script. The token is in this response only; store it then."""
    with session_scope() as session:
        row, plain = accounts.create_api_token(session, user, body.name)
        return {**accounts.token_view(row), "token": plain}


@router.delete("/tokens/{token_id}", response_model=Done, responses=errors(401, 404))
def revoke_token(token_id: RowId, user: User = Depends(current_user)) -> dict:
    """Revoke one of your API tokens; it stops working at once."""
    with session_scope() as session:
        accounts.revoke_api_token(session, user.id, token_id)
    return {"success": True}
