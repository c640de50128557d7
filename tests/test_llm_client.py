"""The chat client shared by trace rewriting and the LLM judge: where the endpoint is, and one retry policy for
every HTTP status, against the scripted server of ``fake_chat`` on 127.0.0.1 (no waits: sleeping is faked)."""

from __future__ import annotations

import asyncio
import random

import pytest
from fake_chat import FakeChatServer, completion, error

from moss_plugins.env import env_number
from moss_plugins.llm_client import (
    OPENAI_URL,
    UNREADABLE,
    Endpoint,
    LLMClient,
    LLMConfigError,
    Policy,
    RequestFailed,
    RequestRefused,
)

ATTEMPTS = 3


class BadSetting(Exception):
    pass


def respond(server, body, action):
    """``action``: an HTTP status to fail with (``"429:<retry-after>"`` for a 429 with that header), or None."""
    if action is None:
        return 200, {}, completion("the reply")
    status, _, wait = str(action).partition(":")
    return int(status), {"Retry-After": wait} if wait else {}, error(f"scripted {status}")


def ask(server, parse=None):
    """(the reply or the exception, requests sent, waits slept)."""
    sleeps = []

    async def sleep(seconds):
        sleeps.append(seconds)

    async def run():
        endpoint = Endpoint.resolve("m", server.url, env={})
        client = LLMClient(endpoint, Policy(ATTEMPTS, 1.0, 8.0, 5.0, 2), sleep=sleep, rng=random.Random(0))
        try:
            return await client.complete([{"role": "user", "content": "hi"}], parse)
        except (RequestFailed, LLMConfigError) as e:
            return e
        finally:
            await client.aclose()

    result = asyncio.run(run())
    return result, len(server.requests), sleeps


@pytest.fixture
def server():
    with FakeChatServer(respond) as s:
        yield s


@pytest.mark.parametrize("status", [408, 409, 425, 500, 501, 503, 529])
def test_transient_statuses_are_retried_with_backoff(server, status):
    server.script = [status, status]
    reply, requests, sleeps = ask(server)
    assert reply == "the reply" and requests == 3
    assert [0.5 <= sleeps[0] <= 1.0, 1.0 <= sleeps[1] <= 2.0] == [True, True]  # equal jitter, doubling


def test_a_request_that_fails_every_attempt_says_how(server):
    server.script = [500] * ATTEMPTS
    failed, requests, _ = ask(server)
    assert isinstance(failed, RequestFailed) and not isinstance(failed, RequestRefused)
    assert (failed.reason, requests) == ("server error (500)", ATTEMPTS)
    assert failed.detail.startswith("HTTP 500: ") and failed.detail.endswith("scripted 500")


def test_a_429_waits_for_its_retry_after(server):
    server.script = ["429:7"]
    reply, requests, sleeps = ask(server)
    assert (
        reply == "the reply" and requests == 2 and sleeps == [pytest.approx(7.0, abs=0.5)]
    )  # the hold, no backoff


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_rejected_configuration_is_not_retried(server, status):
    server.script = [status]
    rejected, requests, _ = ask(server)
    assert isinstance(rejected, LLMConfigError) and requests == 1
    assert f"HTTP {status} for model 'm'" in str(rejected) and "$OPENAI_API_KEY" in str(rejected)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_another_4xx_refuses_this_request_only(server, status):
    server.script = [status]
    refused, requests, _ = ask(server)
    assert isinstance(refused, RequestRefused) and requests == 1
    assert refused.status == status and refused.message.endswith(f"scripted {status}")


def test_a_reply_the_caller_cannot_parse_is_asked_again(server):
    replies = iter(["no", "yes"])

    def parse(text):
        if next(replies) == "no":
            raise ValueError("no rating in it")
        return text.upper()

    reply, requests, sleeps = ask(server, parse)
    assert reply == "THE REPLY" and requests == 2 and len(sleeps) == 1


def test_parse_failures_on_every_attempt_are_reported_as_unreadable(server):
    def parse(text):
        raise ValueError("no rating in it")

    failed, requests, _ = ask(server, parse)
    assert isinstance(failed, RequestFailed) and (failed.reason, failed.detail) == (
        UNREADABLE,
        "no rating in it",
    )
    assert requests == ATTEMPTS


def test_endpoint_resolution():
    env = {"A_URL": "", "B_URL": "http://b:8000/v1/chat/completions/", "KEY": "k"}
    assert (
        Endpoint.resolve("m", url_env=("A_URL", "B_URL"), key_env="KEY", env=env).base_url
        == "http://b:8000/v1"
    )
    assert Endpoint.resolve("m", "http://given/v1", ("B_URL",), env=env).base_url == "http://given/v1"
    local = Endpoint.resolve("m", "http://local:8000/v1", env={})
    assert local.api_key == "EMPTY"  # a server without authentication: the client still needs some key
    with pytest.raises(LLMConfigError, match=r"set \$MY_KEY to use OpenAI's API, or give --url"):
        Endpoint.resolve("m", key_env="MY_KEY", url_source="--url", env={})
    assert Endpoint.resolve("m", env={"OPENAI_API_KEY": "k"}).base_url == OPENAI_URL


@pytest.mark.parametrize(
    ("raw", "kind", "least", "expected"),
    [
        ("", int, 1, 4),
        (" 7 ", int, 1, 7),
        ("2.5", float, 0.0, 2.5),
        ("0.001", float, 0.001, 0.001),
        ("2.5", int, 1, "an integer >= 1"),
        ("nan", float, 0.0, "a number >= 0"),
        ("inf", float, 0.0, "a number >= 0"),
        ("-1", float, 0.0, "a number >= 0"),
        ("0", int, 1, "an integer >= 1"),
        ("x", float, 0.0, "a number >= 0"),
    ],
)
def test_env_number(raw, kind, least, expected):
    env = {"N": raw}
    if isinstance(expected, str):
        with pytest.raises(BadSetting, match=rf"N={raw!r}: must be {expected} \(unset: 4\)"):
            env_number("N", 4, BadSetting, kind, least, env)
    else:
        assert env_number("N", 4, BadSetting, kind, least, env) == expected
