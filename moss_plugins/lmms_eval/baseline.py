"""``--model moss_baseline``: a model that needs no download, registered through the ``lmms_eval.models`` entry
point (:mod:`moss_plugins.lmms_eval.plugin`).

A chat-style lmms-eval model (lmms-eval's ``ChatMixin``): for each request it takes what a video model is given,
the video and the text of the user turn, from the task's ``doc_to_messages``, and answers with
:func:`moss_plugins.data.synth.scenes.respond`, which reads the synthetic scenes' pixels. It never looks at the
doc itself (answer, reference trace, per-frame states). On anything that is not a synthetic MOSS-Video scene it
says so in its trace and guesses the first option.

Model args: ``max_frames`` (default: every frame of the clip; the scenes run at 4 fps).
"""

from __future__ import annotations

from lmms_eval.api.model import lmms
from lmms_eval.models.chat._chat_base import ChatMixin

from ..data.synth.scenes import respond
from ..output_format import format_response


class SceneBaseline(ChatMixin, lmms):
    is_simple = False

    def __init__(self, max_frames: int | str | None = None, batch_size: int | str = 1, **_ignored):
        super().__init__()  # device, max_batch_size, ...: lmms-eval passes them to every model; nothing to place
        self.max_frames = int(max_frames) if max_frames not in (None, "", "None") else None
        self.batch_size = int(batch_size)

    def _infer_one(self, chat_messages, gen_kwargs: dict) -> str:
        _, videos, _ = chat_messages.extract_media()
        text = "\n".join(c.text for m in chat_messages.messages if m.role == "user" for c in m.content if c.type == "text")
        if not videos:
            return format_response(["There is no video to read.", "So I guess the first option."], "A")
        return respond(videos[0], text, max_frames=self.max_frames)

    def loglikelihood(self, requests):
        raise NotImplementedError("moss_baseline only generates (generate_until tasks such as moss_video)")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("moss_baseline answers single-turn requests only")
