"""The task YAMLs as lmms-eval reads them: names resolve, hooks work on hand-made docs, metrics are declared."""

import json
from pathlib import Path

import pytest

from moss_plugins.data import TASK_TYPES
from moss_plugins.lmms_eval import TASKS_DIR
from moss_plugins.lmms_eval.hooks import lmms_results
from moss_plugins.output_format import REASONING_INSTRUCTION, build_prompt, format_response
from moss_plugins.evaluation.trace_metrics import REFERENCE_FREE_METRICS, REFERENCE_METRICS

STEPS = (
    "The disc is red.",
    "The disc turns green.",
    "The disc turns blue.",
    "The cycle is red, green, blue, so red comes next.",
)
OUTPUT = format_response(STEPS, "A")  # the reference trace, answered right


@pytest.fixture(scope="module")
def task_manager():
    from lmms_eval.tasks import TaskManager

    return TaskManager("ERROR")


def load(name: str) -> dict:
    """A task YAML in full mode, as lmms-eval loads it (includes merged, !function resolved)."""
    from lmms_eval.utils import load_yaml_config

    return load_yaml_config(str(next(Path(TASKS_DIR).rglob(f"{name}.yaml"))), mode="full")


def declared(config: dict) -> set[str]:
    return {m["metric"] for m in config["metric_list"]}


def test_the_command_line_names_resolve(task_manager):
    index = task_manager.task_index
    for name in ("moss_video", "moss_video_train", "moss_video_judge", "mmvu_moss", "mmvu_moss_judge"):
        assert index[name]["type"] == "task" and index[name]["yaml_path"].startswith(TASKS_DIR)
    for name in ("mmvu", "mvbench_moss", "mvbench_moss_judge"):
        assert index[name]["type"] == "group" and index[name]["yaml_path"].startswith(TASKS_DIR)
    assert (
        index["mvbench"]["type"] == "group" and "lmms_eval" in index["mvbench"]["yaml_path"]
    )  # lmms-eval's own
    assert task_manager._get_config("mmvu")["task"] == ["mmvu_val"]
    assert task_manager.match_tasks(["moss_video", "mvbench", "mmvu"]) == ["mmvu", "moss_video", "mvbench"]


def test_mvbench_moss_mirrors_every_mvbench_subtask(task_manager):
    from lmms_eval.utils import load_yaml_config

    ours = task_manager._get_config("mvbench_moss")["task"]
    theirs = task_manager._get_config("mvbench")["task"]
    assert ours == [f"mvbench_moss_{t.removeprefix('mvbench_')}" for t in theirs]
    for mine, original in zip(ours, theirs):
        a = load_yaml_config(task_manager._get_yaml_path(mine), mode="simple")
        b = load_yaml_config(task_manager._get_yaml_path(original), mode="simple")
        for key in ("dataset_path", "dataset_name", "test_split", "dataset_kwargs"):
            assert a[key] == b[key], (mine, key)
        assert (
            a["lmms_eval_specific_kwargs"]["default"]["sub_task"]
            == b["lmms_eval_specific_kwargs"]["default"]["sub_task"]
        )


@pytest.mark.parametrize(
    "name", ["moss_video", "moss_video_train", "moss_video_judge", "mvbench_moss_action_count", "mmvu_moss"]
)
def test_our_tasks_keep_the_raw_trace(name):
    """A task's reasoning_tags beat lmms-eval's --reasoning_tags default (which strips <think> blocks)."""
    from lmms_eval.api.reasoning import parse_reasoning_tags_config

    config = load(name)
    assert (
        parse_reasoning_tags_config(
            cli_value='[["<think>", "</think>"]]', task_value=config["reasoning_tags"]
        )
        is None
    )


def moss_doc(**overrides) -> dict:
    trace = [{"t": [0, 1], "text": t} for t in STEPS]
    doc = {
        "id": "d1",
        "question": "Which colour comes next?",
        "options": ["red", "green", "blue", "yellow"],
        "answer": "A",
        "task_type": "next_state",
        "observed_until": 1.375,
        "trace": json.dumps(trace),
        "split": "test",
        "video_path": "/nowhere.mp4",
    }
    return {**doc, **overrides}


def test_moss_video_hooks_on_a_hand_made_doc(lmms_export):
    config = load("moss_video")
    doc = moss_doc(video_path=str(lmms_export / "videos" / "fixture-0.mp4"), observed_until=10.0)
    assert config["doc_to_text"](doc) == build_prompt(doc["question"], doc["options"])
    assert config["doc_to_visual"](doc) == [doc["video_path"]]  # no frame at or after the cut: used as it is
    out = config["process_results"](doc, [OUTPUT])
    metrics = {k: v for k, v in out.items() if k != "report"}
    assert metrics["accuracy"] == 1.0 and metrics["trace_dtw"] == pytest.approx(1.0)
    assert set(metrics) == {f"{m}{s}" for m in REFERENCE_METRICS for s in ("", "_ci95", "/next_state")}
    assert out["report"]["pred_steps"][0] == "The disc is red." and out["report"]["id"] == "d1"


def test_moss_video_declares_every_metric_it_can_emit():
    expected = {
        f"{m}{s}"
        for m in (*REFERENCE_METRICS, "judge_consistency")
        for s in ("", "_ci95", *(f"/{t}" for t in TASK_TYPES))
    }
    for name in ("moss_video", "moss_video_train", "moss_video_judge"):
        config = load(name)
        assert declared(config) == expected | {"report"}
        assert config["dataset_kwargs"]["data_files"]["test"].endswith("splits/test.jsonl")
    assert load("moss_video_train")["test_split"] == "train"


def test_mvbench_moss_hooks_on_a_hand_made_doc():
    config = load("mvbench_moss_action_count")
    doc = {
        "video": "clip.mp4",
        "question": "How many times is the action done?",
        "candidates": ["2", "3", "4"],
        "answer": "3",
    }
    assert config["doc_to_text"](doc) == build_prompt(doc["question"], ["2", "3", "4"])
    good = config["process_results"](
        doc, ["<think>Step 1: He claps.\nStep 2: So 3 times in all.</think><answer>B</answer>"]
    )
    assert {k: good[k] for k in REFERENCE_FREE_METRICS} == {
        "accuracy": 1.0,
        "format_rate": 1.0,
        "answer_consistency": 1.0,
        "trace_length": 2.0,
    }
    bare = config["process_results"](doc, ["B"])
    assert bare["accuracy"] == bare["format_rate"] == bare["answer_consistency"] == 0.0  # no <answer> block
    assert set(good) - {"report"} <= declared(config)
    assert (
        config["doc_to_visual"].__module__ == "lmms_eval.tasks.mvbench.utils"
    )  # lmms-eval's own video lookup


def test_mmvu_moss_hooks_on_hand_made_docs():
    config = load("mmvu_moss")
    mc = {
        "id": 7,
        "question_type": "multiple-choice",
        "question": "Which force acts?",
        "video_path": "Physics/a.mp4",
        "choices": {"A": "gravity", "B": "friction", "C": "magnetism", "D": "tension", "E": ""},
        "answer": "B",
    }
    assert config["doc_to_text"](mc) == build_prompt(
        mc["question"], ["gravity", "friction", "magnetism", "tension"]
    )
    out = config["process_results"](
        mc,
        [
            "<think>Step 1: The block slows on the rough floor.\nStep 2: That is friction.</think><answer>B</answer>"
        ],
    )
    assert out["accuracy"] == out["accuracy/multiple-choice"] == out["answer_consistency"] == 1.0
    open_ended = {
        **mc,
        "question_type": "open-ended",
        "choices": None,
        "answer": "9.8 m/s^2",
        "question": "What is g?",
    }
    assert config["doc_to_text"](open_ended) == build_prompt("What is g?")
    out = config["process_results"](
        open_ended, ["<think>Step 1: Free fall.\nStep 2: g is 9.8 m/s^2.</think><answer>9.8 m/s^2</answer>"]
    )
    assert out["accuracy/open-ended"] == 1.0 and out["answer_consistency"] == 1.0
    assert set(out) - {"report"} <= declared(config)


MVBENCH_DOC = {
    "video": "clip.mp4",
    "question": "Which force acts?",
    "candidates": ["gravity", "friction"],
    "answer": "friction",
}
MMVU_DOC = {
    "id": 1,
    "question_type": "multiple-choice",
    "question": "Which force acts?",
    "video_path": "Physics/a.mp4",
    "choices": {"A": "gravity", "B": "friction", "C": "tension", "D": "magnetism", "E": "lift"},
    "answer": "B",
}
FORCE_OUTPUT = "  <think>Step 1: The block slows down on the rough floor.\nStep 2: That is friction.</think><answer>B</answer>\n"


def leaves(tree: dict) -> list:
    out = []
    for value in tree.values():
        out.extend(leaves(value) if isinstance(value, dict) else [value])
    return out


@pytest.mark.parametrize(
    ("name", "doc", "n_tasks", "hook"),
    [
        ("mvbench_moss", MVBENCH_DOC, 20, "process_results"),
        ("mvbench_moss_judge", MVBENCH_DOC, 20, "process_results_with_judge"),
        ("mmvu", MMVU_DOC, 1, "mmvu_process_results"),
        ("mmvu_moss", MMVU_DOC, 1, "process_results"),
        ("mmvu_moss_judge", MMVU_DOC, 1, "process_results_with_judge"),
    ],
)
def test_groups_and_variants_build_through_lmms_eval(task_manager, monkeypatch, name, doc, n_tasks, hook):
    """lmms-eval builds every task of the name (includes, !function hooks, group overrides); only the Hub
    download is replaced by one hand-made doc."""
    import datasets
    from lmms_eval.api.task import ConfigurableTask

    def download(self, dataset_kwargs=None):
        self.dataset = datasets.DatasetDict({self.config.test_split: datasets.Dataset.from_list([doc])})
        self.dataset_no_image = self.dataset

    monkeypatch.setattr(ConfigurableTask, "download", download)
    tasks = leaves(task_manager.load_task_or_group(name))
    assert len(tasks) == n_tasks
    assert {t.config.process_results.__name__ for t in tasks} == {hook}
    if hook == "process_results":  # ours, through lmms-eval's own calls (which strip the white space)
        task = tasks[0]
        assert task.config.reasoning_tags == "none" and task.doc_to_text(doc).endswith(REASONING_INSTRUCTION)
        out = task.process_results(doc, [FORCE_OUTPUT])
        assert out["accuracy"] == out["format_rate"] == out["answer_consistency"] == 1.0
        assert out["report"]["output"] == FORCE_OUTPUT.strip()


def test_lmms_results_emits_mean_interval_and_breakdown_keys():
    out = lmms_results({"accuracy": 1.0, "trace_dtw": 0.5}, "next_state")
    assert out == {
        "accuracy": 1.0,
        "accuracy_ci95": 1.0,
        "accuracy/next_state": 1.0,
        "trace_dtw": 0.5,
        "trace_dtw_ci95": 0.5,
        "trace_dtw/next_state": 0.5,
    }
    assert set(lmms_results({"accuracy": 1.0})) == {"accuracy", "accuracy_ci95"}
