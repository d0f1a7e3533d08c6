"""Register, sign in and out, sessions, password, API tokens; the bearer-token dependency every other
route uses. Each route is a thin adapter over workers.services.auth."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workers.config import settings
from workers.services import auth
from workers.store.models import User

from .schemas import (
    Credentials,
    Done,
    HandoffCode,
    NewAccount,
    NewToken,
    NewTokenRequest,
    PasswordChange,
    SessionList,
    SessionsEnded,
    SignedIn,
    TokenList,
    errors,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])
bearer = HTTPBearer(auto_error=False, description="A sign-in token or an API token.")
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Credential = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials else None


def current_user(credentials: Credential) -> User:
    user = auth.user_for_token(bearer_token(credentials))
    if user is None:
        raise HTTPException(401, "Sign in first: send Authorization: Bearer <token>.", headers={"WWW-Authenticate": "Bearer"})
    return user


def user_view(user: User) -> dict:
    return {"id": user.id, "username": user.username, "isAdmin": user.is_admin, "createdAt": user.created_at.isoformat()}


def client_of(request: Request) -> str:
    """The address the sign-in limits count by (see workers/client_address.py)."""
    peer = request.client.host if request.client else ""
    forwarded_for = ",".join(request.headers.getlist("x-forwarded-for"))
    return auth.client_of(peer, forwarded_for)


def _label(request: Request) -> str:
    return f"{request.headers.get('user-agent', '')[:150]} · {client_of(request)}"


@router.post("/register", status_code=201, response_model=SignedIn, responses=errors(400, 409, 422, 429, 503))
def register(body: NewAccount, request: Request) -> dict:
    """Create an account and sign it in."""
    user, token = auth.register(body.username, body.password, client=client_of(request), label=_label(request))
    return {"success": True, "token": token, "user": user_view(user)}


@router.post("/login", response_model=SignedIn, responses=errors(400, 401, 422, 429, 503))
def login(body: Credentials, request: Request) -> dict:
    """Sign in. Too many failures answer 429 with Retry-After (see the README's security model)."""
    user, token = auth.sign_in(body.username, body.password, client=client_of(request), label=_label(request))
    return {"success": True, "token": token, "user": user_view(user)}


@router.post("/logout", response_model=Done, responses=errors(401))
def logout(credentials: Credential, _user: User = Depends(current_user)) -> dict:
    """Revoke the token this request was made with."""
    auth.sign_out(bearer_token(credentials))
    return {"success": True}


def _current_session(credentials: HTTPAuthorizationCredentials | None) -> int | None:
    return auth.session_id_for_token(bearer_token(credentials))


@router.post("/logout-all", response_model=SessionsEnded, responses=errors(401))
def logout_all(user: User = Depends(current_user)) -> dict:
    """End every sign-in session of yours, this one too; API tokens keep working. Open pages and
    event streams of those sessions stop within 5 s."""
    return {"success": True, "ended": auth.end_all_sessions(user)}


@router.post("/password", response_model=SessionsEnded, responses=errors(401, 403, 422))
def change_password(body: PasswordChange, credentials: Credential, user: User = Depends(current_user)) -> dict:
    """Change your password; every other sign-in session ends (the one making this request stays)."""
    ended = auth.change_password(user, body.currentPassword, body.newPassword, keep_session=_current_session(credentials))
    return {"success": True, "ended": ended}


@router.get("/sessions", response_model=SessionList, responses=errors(401))
def list_sessions(credentials: Credential, user: User = Depends(current_user)) -> dict:
    """Your sign-in sessions that still work: when each began, was last used, and by what client."""
    return {"success": True, "sessions": auth.list_sessions(user, _current_session(credentials))}


@router.delete("/sessions/{session_id}", response_model=Done, responses=errors(401, 404))
def end_session(session_id: RowId, user: User = Depends(current_user)) -> dict:
    """Sign one of your sessions out."""
    auth.end_session(user, session_id)
    return {"success": True}


def _cookie_args() -> dict:
    return {"httponly": True, "samesite": "strict", "secure": settings().public_url.startswith("https:"), "path": "/"}


@router.post("/session", status_code=204, response_class=Response, responses=errors(401, 422))
def enter_session(body: HandoffCode) -> Response:
    """The sign-in page's step after the form: trade its one-time code (valid for a minute, once) for
    the HttpOnly session cookie that the page's websocket then presents."""
    token = auth.redeem_handoff(body.code)
    if token is None:
        return JSONResponse({"success": False, "message": "That sign-in expired; sign in again."}, status_code=401)
    response = Response(status_code=204)
    response.set_cookie(auth.COOKIE_NAME, token, max_age=int(settings().session_days * 86400), **_cookie_args())
    return response


@router.delete("/session", status_code=204, response_class=Response)
def leave_session(request: Request) -> Response:
    """Sign the browser out: end the cookie's session and drop the cookie."""
    if cookie := request.cookies.get(auth.COOKIE_NAME):
        auth.sign_out(cookie)
    response = Response(status_code=204)
    response.delete_cookie(auth.COOKIE_NAME, **_cookie_args())
    return response


@router.get("/tokens", response_model=TokenList, responses=errors(401))
def list_tokens(user: User = Depends(current_user)) -> dict:
    """The API tokens you created that are not revoked (never the token values)."""
    return {"success": True, "tokens": auth.list_api_tokens(user)}


@router.post("/tokens", status_code=201, response_model=NewToken, responses=errors(400, 401, 422))
def create_token(body: NewTokenRequest, user: User = Depends(current_user)) -> dict:
    """Create a named API token for a script. The token is in this response only; store it then."""
    view, plain = auth.create_api_token(user, body.name)
    return {**view, "token": plain}


@router.delete("/tokens/{token_id}", response_model=Done, responses=errors(401, 404))
def revoke_token(token_id: RowId, user: User = Depends(current_user)) -> dict:
    """Revoke one of your API tokens; it stops working at once."""
    auth.revoke_api_token(user, token_id)
    return {"success": True}
