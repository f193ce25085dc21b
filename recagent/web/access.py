"""Who may use the web server: loopback binds are open, anything else needs an access token.

A token is a URL-safe secret of at least 16 characters, given with `--token` or
$RECAGENT_WEB_TOKEN, or generated (192 bits) when the server binds beyond loopback without one.
A request proves it knows the token in one of two ways:

- `Authorization: Bearer <token>` (scripts, curl);
- the session cookie the server sets when the browser opens `/?token=<token>` (the page's own
  fetches and its server-sent event stream carry it without any script knowing the token).

The cookie is HttpOnly and SameSite=Lax; the one endpoint that writes is a POST that insists on a
JSON body, which a foreign page cannot send without a CORS preflight that this server never
grants, so a cross-site form cannot spend the owner's LLM budget.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets

from ..errors import UserError

TOKEN_ENV = "RECAGENT_WEB_TOKEN"
MIN_TOKEN_LENGTH = 16
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~-]+$")  # URL-unreserved: survives links and cookies unescaped
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to a public address
        return False


def check_token(token: str, where: str = "--token") -> str:
    if len(token) < MIN_TOKEN_LENGTH:
        raise UserError(f"the access token must be at least {MIN_TOKEN_LENGTH} characters, found {len(token)}", where)
    if not TOKEN_PATTERN.match(token):
        raise UserError("the access token may use only letters, digits and . _ ~ - (it travels in a link)", where)
    return token


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_for(host: str, given: str | None) -> tuple[str | None, bool]:
    """The token the server will require, and whether it was generated here.

    A given token is always required (loopback too); beyond loopback one is generated when none
    is given; loopback without a token stays open, as a local tool should.
    """
    if given:
        return check_token(given), False
    if is_loopback(host):
        return None, False
    return new_token(), True


def cookie_name(token: str) -> str:
    """Named after the token's hash, so two servers on one host (cookies ignore ports) keep their own."""
    return "recagent_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def presented(token: str, authorization: str | None, cookies: dict[str, str]) -> bool:
    """Whether a request's Authorization header or cookie carries `token` (compared in constant time)."""
    candidates = [cookies.get(cookie_name(token), "")]
    if authorization and authorization[:7].lower() == "bearer ":
        candidates.append(authorization[7:].strip())
    return any(secrets.compare_digest(c.encode(), token.encode()) for c in candidates if c)
