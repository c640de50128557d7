import pytest
from reward_cases import OPTIONS

from moss_plugins.output_format import answer_blocks, well_formed
from moss_plugins.reward import parse_choice
from moss_plugins.reward.answer import is_correct, parse_answer


@pytest.mark.parametrize(
    "content",
    [
        "B",
        "b",
        "(B)",
        "B.",
        "B)",
        "[B]",
        " B ",
        "Answer: B",
        "answer:b",
        "The answer is B",
        "The correct option is (B)",
        "B. The light turns yellow",
        "(B) The light turns yellow",
        "B: yellow",
        "The light turns yellow",
        "the light turns yellow.",
        "I choose B",
    ],
)
def test_reads_the_chosen_letter(content):
    assert parse_choice(content, OPTIONS) == "B"


@pytest.mark.parametrize(
    "content",
    [
        "A, B, C, D",
        "A B C D",
        "A. green B. yellow",
        "(A) or (B)",
        "A/B",
        "E",
        "",
        "something else entirely",
        "The light turns yellow or The light turns red",
    ],
)
def test_ambiguous_or_invalid_answers_read_as_none(content):
    assert parse_choice(content, OPTIONS) is None


def test_longest_option_text_wins_when_nested():
    options = ["red", "dark red", "blue", "green"]
    assert parse_choice("dark red", options) == "B"
    assert parse_choice("red", options) == "A"


def test_free_form_and_numbers():
    assert parse_answer(["  Seven "], "seven", None) == "Seven"
    assert is_correct("Seven", "seven", None)
    assert is_correct("3.50", "3.5", None) and is_correct("1,000", "1000", None)
    assert not is_correct("3.6", "3.5", None) and not is_correct(None, "3.5", None)


def test_several_blocks_must_agree():
    assert parse_answer(["B", "(B)"], "B", OPTIONS) == "B"
    assert parse_answer(["B", "C"], "B", OPTIONS) is None
    assert parse_answer([], "B", OPTIONS) is None


def test_answer_blocks_linear_scan():
    text = "<answer>A</answer> x <answer>B</answer> <answer>unclosed"
    assert answer_blocks(text) == ["A", "B"] and answer_blocks(text, limit=1) == ["A"]


@pytest.mark.parametrize(
    "text, ok",
    [
        ("<think>step</think><answer>B</answer>", True),
        ("  \n<think>\nstep\n</think>\n\n<answer> B </answer>\n", True),
        ("<think>step</think>", False),
        ("<answer>B</answer>", False),
        ("<think>step</think><answer></answer>", False),
        ("<think>step</think>text<answer>B</answer>", False),
        ("preamble <think>step</think><answer>B</answer>", False),
        ("<think>step</think><answer>B</answer> trailing", False),
        ("<think>step</think><answer>B</answer><answer>B</answer>", False),
        ("<think>a</think><think>b</think><answer>B</answer>", False),
        ("<answer>B</answer><think>step</think>", False),
        ("<think>step<answer>B</answer></think>", False),
    ],
)
def test_well_formed(text, ok):
    assert well_formed(text) is ok
