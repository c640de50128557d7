import pytest

from moss_plugins.output_format import think_body
from moss_plugins.reward import segment_steps


@pytest.mark.parametrize(
    "text, body",
    [
        ("<think>a</think><answer>B</answer>", "a"),
        ("pre <think>a\nb</think> post", "a\nb"),
        ("<think>cut off by the length limit", "cut off by the length limit"),
        ("<think>unclosed<answer>B</answer>", "unclosed"),
        ("prefilled template body</think><answer>B</answer>", "prefilled template body"),
        ("no tags <answer>B</answer> at all", "no tags \n at all"),
    ],
)
def test_think_body(text, body):
    assert think_body(text) == body


def test_step_markers_are_split_and_stripped():
    text = "<think>Step 1: the lamp is green.\nStep 2) it turns yellow\n3. then red\n- it repeats\n* done\n</think>"
    assert segment_steps(text) == ["the lamp is green.", "it turns yellow", "then red", "it repeats", "done"]


def test_inline_step_markers_start_new_steps():
    text = "<think>Step 1: the lamp is green. Step 2: it turns yellow. step 3 - red</think>"
    assert segment_steps(text) == ["the lamp is green.", "it turns yellow.", "red"]
    assert segment_steps("Footstep 3: one thing. Another thing.") == [
        "Footstep 3: one thing.",
        "Another thing.",
    ]


def test_falls_back_to_sentences():
    assert segment_steps(
        "The ball rolls left. It hides behind the box! Where next? It reappears at 3.5 s."
    ) == ["The ball rolls left.", "It hides behind the box!", "Where next?", "It reappears at 3.5 s."]
    assert segment_steps("杯子是空的。水在上升。快满了") == ["杯子是空的。", "水在上升。", "快满了"]


def test_drops_empty_and_marker_only_steps():
    assert segment_steps("<think>\n\n1.\n - \n...\nreal step\n\n</think>") == ["real step"]
    assert segment_steps("") == [] and segment_steps("<think>   </think>") == []


def test_caps_bound_the_work_on_huge_outputs():
    huge = "<think>" + "\n".join(f"step text number {k} " * 50 for k in range(20000)) + "</think>"
    assert len(huge) > 1_000_000
    steps = segment_steps(huge, max_steps=10, max_step_chars=100, max_trace_chars=50_000)
    assert len(steps) == 10 and all(len(s) <= 100 for s in steps)
    one_line = "<think>" + "word " * 300_000 + "</think>"
    assert len(segment_steps(one_line, max_step_chars=600)[0]) == 600
