"""The access token: every route refuses a request without it, the printed link logs a browser in,
and `recagent serve` beyond loopback requires (and generates) one, in a real process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from recagent.errors import UserError
from recagent.web import create_app
from recagent.web.access import check_token, cookie_name, is_loopback, token_for

from .conftest import ROOT
from .web_runs import folder_digest, make_runs

TOKEN = "access-test-token-0123"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("webaccess"))


@pytest.fixture(scope="module")
def app(runs):
    return create_app(runs["root"], token=TOKEN)


def concrete(path: str) -> str:
    """A route's path with real values (the item search needs its query)."""
    path = path.replace("{run}", "plain").replace("{study}", "no-study").replace("{agent_id}", "3").replace("{step}", "0").replace("{item_id}", "1")
    return path + "?q=a" if path.endswith("/items") else path


def test_every_route_refuses_a_request_without_the_token(app, runs):
    client = TestClient(app, follow_redirects=False)
    routes = [(m, concrete(r.path)) for r in app.routes if isinstance(r, APIRoute) for m in r.methods]
    routes += [("GET", "/static/app.js"), ("GET", "/static/no-such-file.js"), ("GET", "/api/no-such-route")]
    assert len(routes) >= 15  # every API route, the page, a script, two unknown paths
    before = folder_digest(runs["root"])
    for method, path in routes:
        for headers in ({}, {"authorization": "Bearer wrong-token-0123456789"}, {"authorization": f"Basic {TOKEN}"},
                        {"cookie": f"{cookie_name(TOKEN)}=wrong-token-0123456789"},
                        {"cookie": f"recagent_other={TOKEN}"}):
            r = client.request(method, path, headers=headers, json={"question": "spend my budget"})
            assert r.status_code == 401, (method, path, headers)
            if path.startswith("/api/"):
                assert "access token" in r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
            else:
                assert "needs its access token" in r.text and "<script" not in r.text
    assert folder_digest(runs["root"]) == before  # the interview endpoint wrote nothing


def test_the_bearer_token_opens_every_route(app, runs):
    client = TestClient(app, headers={"authorization": f"bearer {TOKEN}"})
    for route in app.routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            r = client.get(concrete(route.path))
            if "{study}" in route.path:  # these folders hold no study: the route's own answer, not a 401
                assert r.status_code == 404 and "no study named" in r.json()["error"], route.path
                continue
            assert r.status_code in (200, 503), route.path  # 503: explanation preparing
    r = client.post("/api/runs/plain/agents/3/interview", json={"question": "What did you like?"})
    assert r.status_code == 200 and r.json()["answer"]
    assert (runs["plain"] / "interviews" / "interviews.jsonl").is_file()


def test_the_printed_link_logs_the_browser_in(app):
    browser = TestClient(app, follow_redirects=False)
    wrong = browser.get("/?token=not-the-token-012345")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    r = browser.get(f"/?token={TOKEN}")
    assert r.status_code == 303 and r.headers["location"] == "/"  # the token leaves the address bar
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(TOKEN)}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    # from now on the cookie alone opens the page, its scripts, the API and the interview
    page = browser.get("/")
    assert page.status_code == 200 and '<canvas id="graph">' in page.text
    assert browser.get("/static/app.js").status_code == 200
    assert browser.get("/api/runs").json()["runs"]
    assert browser.post("/api/runs/plain/agents/2/interview", json={"question": "Hello?"}).status_code == 200
    again = browser.get(f"/?token={TOKEN}")  # a logged-in browser opening the link again
    assert again.status_code == 303 and again.headers["location"] == "/"


def test_a_cookie_for_another_server_does_not_open_this_one(runs):
    other_token = "another-server-token-99"
    assert cookie_name(other_token) != cookie_name(TOKEN)  # two servers on one host keep their own cookie
    other = TestClient(create_app(runs["root"], token=other_token), follow_redirects=False)
    other.cookies.set(cookie_name(TOKEN), TOKEN)
    assert other.get("/api/runs").status_code == 401


def test_token_rules():
    assert [is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]")] == [True] * 5
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.org")] == [False] * 5
    assert token_for("127.0.0.1", None) == (None, False)
    generated, was_generated = token_for("0.0.0.0", None)
    assert was_generated and len(generated) >= 32 and check_token(generated) == generated
    assert token_for("127.0.0.1", TOKEN) == (TOKEN, False)  # a given token is required on loopback too
    with pytest.raises(UserError, match="at least 16 characters, found 6"):
        token_for("0.0.0.0", "secret")
    with pytest.raises(UserError, match="only letters, digits"):
        check_token("sixteen;chars;;;;;")
    with pytest.raises(UserError, match="at least 16"):
        create_app("/nonexistent", token="short")


def test_the_printed_address_is_one_a_browser_opens():
    from recagent.web.serve import page_url, url

    assert url("0.0.0.0", 9000, "r1", "t") == f"http://{socket.gethostname()}:9000/?token=t#run=r1"  # not the wildcard
    assert url("::1", 8000) == "http://[::1]:8000/"
    assert page_url("127.0.0.1", 8000, None, False) == "http://127.0.0.1:8000/"
    assert page_url("10.0.0.5", 8000, TOKEN, True).startswith("http://10.0.0.5:8000/?token=<your token>")
    assert page_url("10.0.0.5", 8000, TOKEN, False) == f"http://10.0.0.5:8000/?token={TOKEN}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(runs_root, *args, env=None) -> tuple[subprocess.Popen, str]:
    """`recagent serve` in a real process; returns it and the line it printed with the address."""
    proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "serve", str(runs_root), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
        if "serving runs in" in line:
            return proc, line
    proc.wait(10)
    pytest.fail(f"recagent serve exited with {proc.returncode}")


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"nothing answered at {url}")


@pytest.mark.slow
def test_serve_beyond_loopback_generates_and_requires_a_token(runs):
    port = free_port()
    proc, line = serve_process(runs["root"], "--host", "0.0.0.0", "--port", str(port))
    try:
        token = re.search(r"\?token=([A-Za-z0-9_-]+)", line).group(1)
        assert len(token) >= 32
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/")
        assert httpx.get(base + "/api/runs").status_code == 401
        assert httpx.post(base + "/api/runs/plain/agents/1/interview", json={"question": "hi"}).status_code == 401
        assert httpx.get(base + "/api/runs", headers={"authorization": f"Bearer {token}"}).status_code == 200
        with httpx.Client(follow_redirects=True) as browser:  # follows the redirect with the cookie it set
            login = browser.get(f"{base}/?token={token}")
            assert login.status_code == 200 and '<canvas id="graph">' in login.text and str(login.url) == base + "/"
            assert browser.get(base + "/api/runs").status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_a_given_token_is_required_on_loopback_and_not_echoed(runs):
    port = free_port()
    env = {**os.environ, "RECAGENT_WEB_TOKEN": TOKEN}
    proc, line = serve_process(runs["root"], "--port", str(port), env=env)
    try:
        assert TOKEN not in line and "<your token>" in line
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/")
        assert httpx.get(base + "/api/runs").status_code == 401
        assert httpx.get(base + "/api/runs", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
