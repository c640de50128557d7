"""Every configuration is checked one way (moss_plugins/options.py): a bad option is refused in one line naming
where it was written, the option and its value, and what it must be."""

from __future__ import annotations

import pytest

from moss_plugins.data.build import BuildConfig, BuildError
from moss_plugins.data.rewrite import RewriteConfig, RewriteConfigError
from moss_plugins.data.synth.generate import SynthConfig, SynthConfigError, generate
from moss_plugins.reward import ConfigError, RewardConfig
from moss_plugins.verl.frames import VideoOptions


@pytest.mark.parametrize(
    ("make", "error", "line"),
    [
        (
            lambda: RewardConfig(max_jump=0),
            ConfigError,
            "reward option max_jump=0: must be an integer in [1, 64]",
        ),
        (
            lambda: RewardConfig.from_kwargs(alhpa=1),
            ConfigError,
            "unknown reward option(s) ['alhpa']; valid options: ",
        ),
        (lambda: VideoOptions(fps=0), ValueError, "data.moss_video.fps=0: must be a number > 0"),
        (
            lambda: VideoOptions(min_frames=8, max_frames=4),
            ValueError,
            "data.moss_video.max_frames=4: must be >= min_frames (8) and >= 2",
        ),
        (
            lambda: VideoOptions.from_data_config({"moss_video": {"fsp": 2}}),
            ValueError,
            "data.moss_video: unknown option(s) ['fsp']; valid options: ",
        ),
        (
            lambda: BuildConfig(test_fraction=1.0),
            BuildError,
            "build option test_fraction=1.0: must be a number in [0, 1)",
        ),
        (lambda: BuildConfig(tasks=("nope",)), BuildError, "build option tasks=('nope',): must be some of "),
        (
            lambda: SynthConfig(tasks_per_video=0),
            SynthConfigError,
            "--tasks-per-video=0: must be an integer in [1, ",
        ),
        (
            lambda: SynthConfig(size=(31, 64)),
            SynthConfigError,
            "--size=(31, 64): must be WxH with even sides of 32 to ",
        ),
        (lambda: generate(0, 0, "unused"), SynthConfigError, "--n=0: must be an integer in [1, "),
        (
            lambda: RewriteConfig(model=" "),
            RewriteConfigError,
            "rewrite option model=' ': a model name is required with --rewrite (--model NAME)",
        ),
        (
            lambda: RewriteConfig(model="m", max_concurrency=0),
            RewriteConfigError,
            "rewrite option max_concurrency=0: must be an integer >= 1",
        ),
    ],
)
def test_a_bad_option_is_one_line_naming_where_what_and_the_rule(make, error, line):
    with pytest.raises(error) as raised:
        make()
    message = str(raised.value)
    assert message.startswith(line) and "\n" not in message


def test_checks_keep_the_canonical_form():
    assert RewardConfig(alpha=2).alpha == 2.0 and isinstance(RewardConfig(alpha=2).alpha, float)
    assert BuildConfig(tasks=["next_state"]).tasks == ("next_state",)
    assert VideoOptions(fps=2).fps == 2.0
