"""Register, sign in, sign out; the bearer-token dependency every other route uses."""

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel

from workers import accounts
from workers.db import session_scope
from workers.models import User

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str
    password: str


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def current_user(authorization: str | None = Header(default=None)) -> User:
    with session_scope() as session:
        user = accounts.user_for_token(session, _bearer(authorization))
    if user is None:
        raise HTTPException(401, "Sign in first: send Authorization: Bearer <token>.")
    return user


def user_view(user: User) -> dict:
    return {"id": user.id, "username": user.username, "isAdmin": user.is_admin, "createdAt": user.created_at.isoformat()}


@router.post("/register", status_code=201)
def register(body: Credentials) -> dict:
    with session_scope() as session:
        user = accounts.register(session, body.username, body.password)
        token = accounts.issue_token(session, user)
        return {"success": True, "token": token, "user": user_view(user)}


@router.post("/login")
def login(body: Credentials) -> dict:
    with session_scope() as session:
        user = accounts.authenticate(session, body.username, body.password)
        token = accounts.issue_token(session, user)
        return {"success": True, "token": token, "user": user_view(user)}


@router.post("/logout")
def logout(authorization: str | None = Header(default=None), _user: User = Depends(current_user)) -> dict:
    with session_scope() as session:
        accounts.revoke_token(session, _bearer(authorization))
    return {"success": True}
