"""Console sign-in: session cookies, CSRF tokens, roles. Every staff route is made by `staff_route`."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from bots.http.errors import json_refusal
from intake.staff import StaffAccounts, StaffRole, StaffSession

COOKIE = "helpline_staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie_name(secure: bool) -> str:
    # __Host- cookies are only accepted over https, for this host and path "/": no subdomain can set them.
    return f"__Host-{COOKIE}" if secure else COOKIE


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    # A session cookie (no Max-Age or Expires): the browser forgets it when it closes, so a shared or
    # seized computer does not stay signed in; the server's own time-outs still end the session earlier.
    response.set_cookie(
        cookie_name(secure),
        token,
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: web.StreamResponse, secure: bool) -> None:
    response.del_cookie(cookie_name(secure), path="/")


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField] | None:
    """The posted form, or None when it cannot be read: aiohttp raises ValueError (bytes that are not
    UTF-8, a broken multipart body), LookupError (an unknown charset) or RuntimeError (an unknown
    transfer encoding in a part) for what a client sent, and that is bad input, not a server error."""
    try:
        return await request.post()
    except (ValueError, LookupError, RuntimeError):
        return None


def same_origin(request: web.Request) -> bool:
    """A state-changing form post must come from our own pages (SameSite already blocks most else)."""
    # Our pages send Referrer-Policy: no-referrer, so a browser's form post carries "Origin: null" and no
    # Referer; Sec-Fetch-Site still tells where it came from (every current browser sends it).
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


BACKGROUND_HEADER = "X-Console-Background"


async def require(
    request: web.Request, accounts: StaffAccounts, secure: bool, *, role: str | None = None, api: bool = True
) -> StaffSession:
    # The page marks the requests it makes by itself (timed and live refreshes): they are not activity.
    background = request.headers.get(BACKGROUND_HEADER) == "1"
    session = await accounts.session(request.cookies.get(cookie_name(secure)), touch=not background)
    if session is None:
        if api:
            raise json_refusal(web.HTTPUnauthorized, "sign in first")
        raise web.HTTPSeeOther("/staff/login")
    if role == StaffRole.ADMIN and not session.admin:
        raise json_refusal(web.HTTPForbidden, "for administrators only")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and not api:
            form = await read_form(request)
            value = form.get("csrf_token", "") if form is not None else ""
            sent = value if isinstance(value, str) else ""
        # surrogateescape: a header's undecodable bytes arrive as surrogates, which plain encode() refuses.
        if not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), session.csrf_token.encode()):
            raise json_refusal(web.HTTPForbidden, "missing or wrong CSRF token")
    return session


class Gate(Protocol):
    """What the check needs of the console: its staff accounts, and whether it is served over https."""

    accounts: StaffAccounts
    secure: bool


G = TypeVar("G", bound=Gate)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def staff_route(
    get: Callable[[web.Request], G],
    handler: Callable[[G, web.Request, StaffSession], Awaitable[web.StreamResponse]],
    *,
    role: StaffRole | None = None,
    page: bool = False,
) -> Handler:
    """A staff route: the handler runs only for a signed-in member (of this role), with the CSRF token on a
    change, checked before anything they sent is read. Refused, an API route answers JSON (401, 403); a
    `page` sends its visitor to the sign-in page instead (and takes the token from the posted form)."""

    async def checked(request: web.Request) -> web.StreamResponse:
        gate = get(request)
        staff = await require(request, gate.accounts, gate.secure, role=role, api=not page)
        return await handler(gate, request, staff)

    return checked
