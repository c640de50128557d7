"""The LLM judge's requests through lmms-eval's own judge providers (``API_TYPE`` other than ``openai``).

Imported by the judge tasks' hooks, it registers :func:`lmms_eval_provider` with the framework-free judge
(:mod:`moss_plugins.evaluation.judge`), which keeps its cache, retries and deadline around the provider's call.
"""

from __future__ import annotations

import asyncio
import math

from ..evaluation import judge
from ..evaluation.judge import MAX_TOKENS, Settings
from ..llm_client import AttemptFailed, Send, reply_text


def lmms_eval_provider(settings: Settings) -> Send:
    """Requests through ``lmms_eval.llm_judge``'s provider ``API_TYPE`` (its own retries off: the client's apply)."""
    from lmms_eval.llm_judge import Request, ServerConfig, get_server

    config = ServerConfig(
        model_name=settings.model,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        timeout=math.ceil(settings.policy.timeout),
        num_retries=1,
        retry_delay=0,
    )
    server = get_server(settings.api_type, config)

    async def send(messages: list[dict]) -> str:
        # The provider's call runs in a worker thread: past the client's deadline the sample stops waiting for it.
        try:
            reply = await asyncio.to_thread(server.evaluate, Request(messages=messages, config=config))
        except Exception as e:  # the providers raise whatever their client raises
            raise AttemptFailed("provider error", message=repr(e)) from e
        return reply_text(getattr(reply, "content", None))

    return send


judge.PROVIDER = lmms_eval_provider
