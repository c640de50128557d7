"""``--model moss_baseline``: a model that needs no download, registered through the ``lmms_eval.models`` entry
point (:mod:`moss_plugins.lmms_eval.plugin`).

A chat-style lmms-eval model: for each request it takes what a video model is given, the video and the text of
the user turn, from the task's ``doc_to_messages``, and answers with :func:`.scene_solver.respond`, which reads
the synthetic scenes' pixels. Of the doc it reads only the question's ``task_type`` (which kind of question it
is), never the answer, reference trace or per-frame states. On anything that is not a synthetic MOSS-Video
scene, or a question without a task type, it says so in its trace and guesses the first option.

Model args: ``max_frames`` (default: every frame of the clip; the scenes run at 4 fps).
"""

from __future__ import annotations

from lmms_eval.api.model import lmms
from lmms_eval.protocol import ChatMessages
from tqdm import tqdm

from ..output_format import format_response
from .scene_solver import respond


class SceneBaseline(lmms):
    is_simple = False  # lmms-eval hands a chat model doc_to_messages

    def __init__(self, max_frames: int | str | None = None, batch_size: int | str = 1, **_ignored):
        super().__init__()  # device, max_batch_size, ...: lmms-eval passes them to every model; nothing to place
        self.max_frames = int(max_frames) if max_frames not in (None, "", "None") else None
        self.batch_size = int(batch_size)

    def generate_until(self, requests) -> list[str]:
        # lmms-eval's ChatMixin would hand over the messages alone; the solver also needs the doc's task type.
        out = []
        for request in tqdm(requests, desc="moss_baseline", disable=self.rank != 0):
            ctx, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            answer = self._answer(ChatMessages(messages=doc_to_messages(doc)), doc.get("task_type"))
            self.cache_hook.add_partial("generate_until", (ctx, gen_kwargs), answer)
            out.append(answer)
        return out

    def _answer(self, chat_messages: ChatMessages, task_type: str | None) -> str:
        _, videos, _ = chat_messages.extract_media()
        text = "\n".join(
            c.text for m in chat_messages.messages if m.role == "user" for c in m.content if c.type == "text"
        )
        if not videos:
            return format_response(["There is no video to read.", "So I guess the first option."], "A")
        return respond(videos[0], text, task_type, max_frames=self.max_frames)

    def loglikelihood(self, requests):
        raise NotImplementedError("moss_baseline only generates (generate_until tasks such as moss_video)")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("moss_baseline answers single-turn requests only")
