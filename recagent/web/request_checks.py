"""What every request that changes something must pass before its body is read.

The page's state-changing endpoints (the interview, role-play commands) are POSTs with a JSON
body. A foreign web page the user happens to visit can make the browser send a POST to a loopback
server, so on every state-changing request, token or not:

- `Content-Type` is parsed as a media type and must be exactly `application/json` (parameters such
  as `charset` allowed): `text/plain; charset=application/json` is `text/plain`, which a cross-site
  form may send without a CORS preflight;
- `Sec-Fetch-Site` (sent by every current browser) must be `same-origin` or `none` (typed, bookmark),
  and `Origin`, when present, must be this server's own origin (`null`, from sandboxed frames and
  `file:` pages, is refused); requests with neither are scripts (curl, httpx), not browsers;
- the body is at most `MAX_BODY` bytes (`Content-Length` checked before reading, a chunked body
  counted while reading) and its JSON at most `MAX_DEPTH` deep, parsed by pydantic-core's parser,
  whose recursion limit turns a nesting bomb into a 400 instead of a RecursionError.
"""

from __future__ import annotations

from email.message import Message
from urllib.parse import urlsplit

import pydantic_core
from starlette.requests import Request

MAX_BODY = 16 * 1024  # bytes: a question of 500 characters or a role-play command is far below
MAX_DEPTH = 16  # nesting of arrays and objects; the bodies the API takes are 1-2 deep
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_FETCH = frozenset({"same-origin", "none"})


class Refused(Exception):
    """A request refused before its body is used: `status` and one message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> str:
    """The media type of a Content-Type header, lowercased, without parameters ('' when none or invalid).

    Parsed by the standard library's MIME header parser (RFC 2045), so a parameter can never
    smuggle a type in: `text/plain; charset=application/json` is `text/plain`.
    """
    if not header:
        return ""
    message = Message()
    message["content-type"] = header
    if message.get("content-type") is None:
        return ""
    parsed = message.get_content_type()
    # an unparsable header reads as the default text/plain: say so only if that is what was sent
    return parsed if parsed != "text/plain" or header.strip().lower().startswith("text/plain") else ""


def own_origin(request: Request) -> str:
    """The origin this request was addressed to (scheme://host[:port], from its Host header)."""
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def check_origin(request: Request) -> None:
    """Refuse (403) a state-changing request that a browser sent on behalf of another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() not in SAME_SITE_FETCH:
        raise Refused(403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:40]!r}); "
                           "use the page this server serves")
    origin = request.headers.get("origin")
    if origin is None:
        return
    parts = urlsplit(origin.strip().lower())
    if origin.strip().lower() == "null" or f"{parts.scheme}://{parts.netloc}" != own_origin(request):
        raise Refused(403, f"cross-origin request refused (Origin: {origin[:80]!r}); use the page this server serves")


def check_length(request: Request) -> None:
    """Refuse (413) a body announced as larger than MAX_BODY before reading any of it."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise Refused(400, f"Content-Length is not a number: {declared[:40]!r}")
    if int(declared) > MAX_BODY:
        raise Refused(413, f"the request body is {int(declared)} bytes; at most {MAX_BODY} are accepted")


def check_state_changing(request: Request) -> None:
    """The checks every non-GET request passes (called by the app's middleware): origin and length."""
    if request.method.upper() in SAFE_METHODS:
        return
    check_origin(request)
    check_length(request)


async def read_body(request: Request) -> bytes:
    """The body, counted while it arrives (a chunked body has no Content-Length): 413 past MAX_BODY."""
    check_length(request)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, f"the request body is longer than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def depth(value) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), iteratively (no recursion to exhaust)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH):
    """Parse a JSON body with bounded nesting: Refused(400) for invalid or too deeply nested JSON."""
    try:
        value = pydantic_core.from_json(raw or b"null")
    except ValueError as e:
        reason = "nested too deeply" if "recursion" in str(e) else "not valid JSON"
        raise Refused(400, f"the request body is {reason}") from None
    if depth(value) > max_depth:
        raise Refused(400, f"the request body is nested more than {max_depth} levels deep")
    return value


async def json_body(request: Request, example: str):
    """The JSON body of a state-changing request, after every check above; `example` shows the expected shape."""
    if media_type(request.headers.get("content-type")) != "application/json":
        raise Refused(415, f"send the body as JSON (Content-Type: application/json), e.g. {example}")
    return parse_json(await read_body(request))
