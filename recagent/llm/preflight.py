"""Preflight: one cheap request per endpoint before anything runs.

`GET {base_url}/models` is answered by every OpenAI-compatible server (OpenAI, vLLM, Ollama,
llama.cpp, LM Studio) without spending tokens. It tells apart, before the first step:

- a dead endpoint (nothing listens, no answer in `llm.timeout`);
- an unauthorised one (401/403: the key is missing or refused);
- a wrong one (404 or a reply that is not a model list: usually a `base_url` without `/v1`);
- a model the endpoint does not serve.

Each stops the run with a `UserError`: one line naming the URL, what came back and a hint. The
prompt cache is never consulted, so a fully cached re-run still finds a wrong URL. A 429 passes
(the endpoint is there and answers); 5xx and timeouts are retried like calls (`llm.max_retries`,
`llm.backoff`, Retry-After) before they stop the run. An endpoint that lists no models at all
passes the model check: there is nothing to compare with.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import httpx

from ..errors import UserError

OPENAI_API = "https://api.openai.com/v1"


@dataclass
class EndpointCheck:
    url: str
    served: list[str]  # model ids the endpoint lists (may be empty)
    status: int  # HTTP status of the model list (429 passes unchecked)

    def describe(self, model: str) -> str:
        if self.status == 429:
            return f"{self.url}: reachable (rate limited, answered 429; model not checked)"
        if not self.served:
            return f"{self.url}: reachable, lists no models (model {model!r} not checked)"
        return f"{self.url}: reachable, serves {model!r} ({len(self.served)} model{'s' * (len(self.served) != 1)} listed)"


def endpoint_urls(spec) -> list[str]:
    """The endpoints calls go to, as the OpenAI client resolves them (environment default included)."""
    if spec.base_url is None:
        return [os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL") or OPENAI_API]
    return list(spec.base_url) if isinstance(spec.base_url, list) else [spec.base_url]


def _cut(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path_hint(url: str) -> str:
    if not url.rstrip("/").endswith("/v1"):
        return "does base_url end in /v1?"
    return "is this an OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, OpenAI)?"


def _server_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return f": {_cut(message)}" if message else ""


def check_endpoint(url: str, model: str, key: str, *, timeout: float, retries: int = 0, backoff: float = 1.0,
                   key_source: str = "") -> EndpointCheck:
    """Check one endpoint; raises UserError naming the URL, the status and a hint."""
    from .ratelimit import RETRY_AFTER_CAP_S, retry_after

    models_url = url.rstrip("/") + "/models"
    scrub = (lambda text: text.replace(key, "***")) if len(key) >= 4 else (lambda text: text)
    for attempt in range(retries + 1):
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                response = client.get(models_url, headers={"Authorization": f"Bearer {key}"})
        except httpx.ConnectError as e:
            raise UserError(f"GET {models_url} failed: cannot connect ({_cut(e) or 'connection refused'}); "
                            f"is the server running at this address?", "field 'llm.base_url'") from None
        except httpx.ConnectTimeout:
            raise UserError(f"GET {models_url} failed: no connection within {timeout:g} s (llm.timeout); "
                            f"is the address right and reachable from here?", "field 'llm.base_url'") from None
        except httpx.TimeoutException:  # connected, but no answer: a busy server may answer a second time
            failure = f"no answer within {timeout:g} s (llm.timeout)"
            wait = backoff * 2 ** attempt
        except httpx.HTTPError as e:  # a malformed URL, TLS, a protocol error: not worth retrying
            raise UserError(f"GET {models_url} failed: {_cut(scrub(f'{type(e).__name__}: {e}'))}",
                            "field 'llm.base_url'") from None
        else:
            status = response.status_code
            said = scrub(_server_message(response))
            if status in (401, 403):
                raise UserError(f"GET {models_url} answered {status} {response.reason_phrase}{said}; the endpoint "
                                f"refused the key{key_source}", "field 'llm.api_key_env'")
            if status == 429:
                return EndpointCheck(url, [], status)
            if status >= 500 or status == 408:
                failure = f"answered {status} {response.reason_phrase}{said}"
                wait = max(backoff * 2 ** attempt, min(retry_after(response.headers) or 0.0, RETRY_AFTER_CAP_S))
            elif status != 200:
                raise UserError(f"GET {models_url} answered {status} {response.reason_phrase}{said}; "
                                f"{_path_hint(url)}", "field 'llm.base_url'")
            else:
                return _listed(url, models_url, model, response)
        if attempt < retries:
            time.sleep(wait)
    raise UserError(f"GET {models_url} {failure}, {retries + 1} tries; is the server overloaded or starting?",
                    "field 'llm.base_url'")


def _listed(url: str, models_url: str, model: str, response: httpx.Response) -> EndpointCheck:
    try:
        data = response.json().get("data")
        served = [str(m["id"]) for m in data]
    except (ValueError, AttributeError, KeyError, TypeError):
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise UserError(f"GET {models_url} answered 200 with {kind}, not a model list; {_path_hint(url)}",
                        "field 'llm.base_url'") from None
    if served and model not in served:
        shown = ", ".join(_cut(m, 60) for m in served[:10]) + (f" and {len(served) - 10} more" if len(served) > 10 else "")
        raise UserError(f"{url} does not serve model {_cut(model, 80)!r}; it serves {shown}", "field 'llm.model'")
    return EndpointCheck(url, served, 200)


def check_endpoints(spec, key: str | None = None) -> list[EndpointCheck]:
    """Check every endpoint of the scenario's `llm` block (an LLMSpec) before a run.

    Nothing to check for the offline and fake providers. `key` defaults to the one `llm.api_key_env`
    names (a missing variable is a UserError too). Raises UserError at the first endpoint that fails.
    """
    if spec.provider != "openai":
        return []
    if key is None:
        from .openai_provider import api_key

        key = api_key(spec)
    key_source = (f" (from ${spec.api_key_env})" if spec.api_key_env
                  else "; name the variable that holds it in llm.api_key_env")
    return [check_endpoint(url, spec.model, key, timeout=spec.timeout, retries=spec.max_retries, backoff=spec.backoff,
                           key_source=key_source) for url in endpoint_urls(spec)]
