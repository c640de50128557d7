"""The generated metric_list YAMLs: committed files match the generator, and the generator follows the code."""

import yaml

from moss_plugins.lmms_eval import task_yaml


class FunctionTags(yaml.SafeLoader):
    """Reads lmms-eval's `!function x` as the string "fn:x"."""


FunctionTags.add_constructor("!function", lambda loader, node: f"fn:{node.value}")


def test_committed_metric_yamls_are_up_to_date():
    assert task_yaml.stale() == [], "regenerate them: python -m moss_plugins.lmms_eval.task_yaml"


def test_every_metric_gets_its_mean_interval_breakdown_and_direction():
    family = task_yaml.Family("x", "x", ("hits", "trace_length"), ("a", "b"))
    entries = yaml.load(family.render(), Loader=FunctionTags)["metric_list"]
    assert [(e["metric"], e["aggregation"], e["higher_is_better"]) for e in entries] == [
        ("hits", "mean", True),
        ("hits_ci95", "fn:utils.bootstrap_ci", True),
        ("hits/a", "mean", True),
        ("hits/b", "mean", True),
        ("trace_length", "mean", False),
        ("trace_length_ci95", "fn:utils.bootstrap_ci", False),
        ("trace_length/a", "mean", False),
        ("trace_length/b", "mean", False),
        ("report", "fn:utils.write_report", True),
    ]
    groups = yaml.safe_load(task_yaml.GroupScores("x", "x", ("hits", "trace_length")).render())[
        "aggregate_metric_list"
    ]
    assert groups == [
        {"metric": m, "aggregation": "mean", "weight_by_size": True} for m in ("hits", "trace_length")
    ]


def test_a_hand_edit_is_reported_as_stale(monkeypatch, tmp_path):
    family = task_yaml.Family("x", "x", ("hits",), ())
    monkeypatch.setattr(task_yaml, "TASKS_DIR", str(tmp_path))
    monkeypatch.setattr(task_yaml, "GENERATED", (family,))
    assert task_yaml.stale() == [family.path]  # missing
    (tmp_path / "x").mkdir()
    family.path.write_text(family.render())
    assert task_yaml.stale() == []
    family.path.write_text(family.render().replace("higher_is_better: true", "higher_is_better: false", 1))
    assert task_yaml.stale() == [family.path]
