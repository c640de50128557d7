"""Plugins: a separately installed distribution adds a segmenter, a similarity and a reward term through pluggy
hooks (moss_plugins/reward/hookspecs.py), each advertised as an entry point loaded only when a configuration
selects its name, and checked by pluggy then: before the first rollout."""

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from moss_plugins.reward import ConfigError, RewardConfig, compute_score, registry

EXAMPLE = Path(__file__).parents[2] / "examples" / "moss-embedding-plugin"

# Runs in a fresh interpreter that sees the installed example; builds a tiny random sentence-transformers model
# first (a 1-layer BERT with mean pooling: enough to exercise the plumbing offline, in one heavy import).
CHECK = """
import json, os, pathlib
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from transformers import BertConfig, BertModel, BertTokenizerFast

root = pathlib.Path(os.environ["MODEL"]).parent
bert = root / "bert"
bert.mkdir(parents=True)
words = "the lamp is green then turns yellow maybe perhaps cup moves".split()
(bert / "vocab.txt").write_text("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *words]))
BertTokenizerFast(vocab_file=str(bert / "vocab.txt")).save_pretrained(bert)
config = BertConfig(vocab_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
BertModel(config).save_pretrained(bert)
SentenceTransformer(modules=[Transformer(str(bert)), Pooling(32, "mean")], device="cpu").save(os.environ["MODEL"])

from moss_plugins.reward import compute_score, registry
truth = {"answer": "B", "trace": ["the lamp is green.", "then the lamp turns yellow."]}
faithful = "<think>The lamp is green. Then the lamp turns yellow.</think><answer>B</answer>"
hedged = "<think>Maybe the lamp is green. Perhaps the cup moves.</think><answer>B</answer>"
# The model reaches the plugin through its own options block, not the environment.
options = dict(segmenter="sentences", similarity="embedding", extra_terms={"hedging": -0.5},
               plugins={"embedding": {"model": os.environ["MODEL"]}})
print(json.dumps({"available": {kind: registry.available(kind) for kind in ("segmenter", "similarity", "reward_term")},
                  "faithful": compute_score(None, faithful, truth, **options),
                  "hedged": compute_score(None, hedged, truth, **options)}))
"""


@pytest.mark.slow
def test_installed_distribution_is_discovered_and_used(tmp_path):
    """pip-installs examples/moss-embedding-plugin (a real distribution) and uses all three of its components."""
    target, source = tmp_path / "site", tmp_path / "source"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )  # pip builds in place
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
    )
    path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "MODEL": str(tmp_path / "model" / "st")}
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[-1])
    # the provider is the distribution (there is no plugin name apart from it)
    example = "moss-embedding-plugin"
    assert report["available"]["segmenter"] == {"default": "builtin", "sentences": example}
    assert report["available"]["similarity"] == {
        "char3": "builtin",
        "embedding": example,
        "facts": "builtin",
        "rouge": "builtin",
    }
    assert report["available"]["reward_term"] == {"hedging": example}
    faithful, hedged = report["faithful"], report["hedged"]
    assert faithful["n_pred_steps"] == 2 and faithful["process"] == pytest.approx(
        1.0, abs=1e-5
    )  # same tokens: cosine 1
    assert faithful["hedging"] == 0.0 and hedged["hedging"] == 1.0
    assert hedged["process"] < faithful["process"]
    assert faithful["score"] - hedged["score"] == pytest.approx(
        0.5 * (faithful["process"] - hedged["process"]) + 0.5
    )


def test_not_installed_means_not_available():
    assert "exact" not in registry.available("similarity")
    with pytest.raises(ConfigError, match="unknown similarity 'exact'; installed: char3, facts, rouge"):
        compute_score(None, "x", {"answer": "B", "trace": ["x"]}, similarity="exact")


def test_builtin_char_trigram_alternative_sees_inflections():
    truth = {"answer": "B", "trace": ["the door opens slowly"]}
    out = "<think>the door opened slowly</think><answer>B</answer>"
    rouge = compute_score(None, out, truth, preset="paper")["process"]
    char3 = compute_score(None, out, truth, preset="paper", similarity="char3")["process"]
    assert 0 < rouge < char3 < 1
    assert compute_score(
        None, "<think>the door opens slowly</think><answer>B</answer>", truth, similarity="char3"
    )["process"] == pytest.approx(1.0)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path to install fake distributions into, and a plugin manager of the built-ins alone."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_pm", registry._Manager())
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def install(
    site: Path, dist: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str] | None = None
):
    """A distribution as pip leaves it: a dist-info folder (METADATA, entry_points.txt) next to its modules."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in named.items())
            for group, named in entry_points.items()
        )
    )
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    importlib.invalidate_caches()


TRUTH = {"answer": "B", "trace": ["the lamp is green", "then it turns yellow"]}
OUTPUT = "<think>The lamp is green.\nThen it turns yellow.</think><answer>B</answer>"
GOOD = {
    "moss_good_plugin": """
    import numpy as np

    from moss_plugins.reward.hookspecs import hookimpl

    def exact(pred_steps, ref_steps):
        return np.array([[float(r.lower() == p.lower().rstrip(".")) for p in pred_steps] for r in ref_steps])

    def lines(text, config):
        return [s for s in text.split("<think>")[-1].split("</think>")[0].splitlines() if s.strip()]

    def one(ctx):
        return 1.0

    @hookimpl
    def moss_similarities():
        return {"exact": exact}

    @hookimpl
    def moss_segmenters():
        return {"lines": lines}

    @hookimpl
    def moss_reward_terms():
        return {"one": one}
"""
}
# One module provides all three components: each entry point names one, all load the same plugin.
GOOD_ENTRY_POINTS = {
    "moss_plugins.similarities": {"exact": "moss_good_plugin"},
    "moss_plugins.segmenters": {"lines": "moss_good_plugin"},
    "moss_plugins.reward_terms": {"one": "moss_good_plugin"},
}


def test_a_selected_plugin_is_loaded_once_for_all_its_components(site):
    install(site, "moss-good", GOOD_ENTRY_POINTS, GOOD)
    good = compute_score(None, OUTPUT, TRUTH, similarity="exact", segmenter="lines", extra_terms={"one": 0.5})
    assert good["process"] == pytest.approx(1.0) and good["one"] == 1.0 and good["reason"] == "ok"
    # One plugin, under the name of the entry point loaded first (the segmenter is resolved first).
    assert registry._pm.get_plugin("lines") is sys.modules["moss_good_plugin"]
    assert len(registry._pm.get_plugins()) == 2  # the built-ins and it


@pytest.mark.parametrize(
    ("value", "modules", "error"),
    [
        ("moss_broken_missing", {}, "ModuleNotFoundError"),  # its module is not there (ImportError)
        (
            "moss_broken_body",
            {"moss_broken_body": "raise RuntimeError('no GPU here')"},
            "RuntimeError('no GPU here')",
        ),
    ],
    ids=["module-missing", "module-body-raises"],
)
def test_a_broken_plugin_breaks_only_the_configurations_that_select_it(site, value, modules, error):
    default = compute_score(None, OUTPUT, TRUTH)
    install(site, "moss-broken", {group: {"broken": value} for group in registry.GROUPS.values()}, modules)
    install(site, "moss-good", GOOD_ENTRY_POINTS, GOOD)
    assert compute_score(None, OUTPUT, TRUTH) == default
    assert "moss_good_plugin" not in sys.modules and value not in sys.modules  # nothing selected them
    good = compute_score(None, OUTPUT, TRUTH, similarity="exact", segmenter="lines", extra_terms={"one": 0.5})
    assert good["process"] == pytest.approx(1.0) and good["one"] == 1.0
    assert registry.available("similarity")["broken"] == "moss-broken"  # listed, still not imported
    for option in ({"similarity": "broken"}, {"segmenter": "broken"}, {"extra_terms": {"broken": 1.0}}):
        with pytest.raises(registry.PluginError) as raised:
            RewardConfig(**option)
        message = str(raised.value)
        assert "\n" not in message and f"plugin 'broken' ({value}) from distribution 'moss-broken'" in message
        assert error in message and "Fix or uninstall 'moss-broken'" in message
    assert compute_score(None, OUTPUT, TRUTH) == default


WRONG = {
    # A hook with an argument its spec does not have.
    "signature": """
        from moss_plugins.reward.hookspecs import hookimpl

        @hookimpl
        def moss_similarities(config):
            return {"wrong": lambda pred, ref: [[1.0] * len(pred)] * len(ref)}
    """,
    # A hook the contract does not define (a misspelt name).
    "unknown-hook": """
        from moss_plugins.reward.hookspecs import hookimpl

        @hookimpl
        def moss_similarity():
            return {"wrong": lambda pred, ref: [[1.0] * len(pred)] * len(ref)}
    """,
    # No hook at all: the component alone, as an entry point names no plugin.
    "no-hook": """
        def wrong(pred, ref):
            return [[1.0] * len(pred)] * len(ref)
    """,
    # A component called with fewer arguments than the contract passes.
    "component-signature": """
        from moss_plugins.reward.hookspecs import hookimpl

        @hookimpl
        def moss_similarities():
            return {"wrong": lambda pred: [[1.0] * len(pred)]}
    """,
}
REFUSED = {
    "signature": "Argument(s) {'config'} are declared in the hookimpl but can not be found in the hookspec",
    "unknown-hook": "unknown hook 'moss_similarity'",
    "no-hook": "it implements no hook",
    "component-signature": "does not fit fn(pred_steps, ref_steps)",
}


@pytest.mark.parametrize("wrong", list(WRONG))
def test_a_plugin_that_breaks_the_contract_is_refused_at_start_up_naming_it(site, wrong):
    install(
        site,
        "moss-wrong",
        {"moss_plugins.similarities": {"wrong": "moss_wrong_plugin"}},
        {"moss_wrong_plugin": WRONG[wrong]},
    )
    assert compute_score(None, OUTPUT, TRUTH)["reason"] == "ok"  # unselected: harmless
    with pytest.raises(registry.PluginError) as raised:
        RewardConfig(similarity="wrong")  # building the configuration, before any rollout
    message = str(raised.value)
    assert "\n" not in message and REFUSED[wrong] in message
    if wrong != "component-signature":
        assert message.startswith(
            "similarity plugin 'wrong' (moss_wrong_plugin) from distribution 'moss-wrong' breaks "
            "the plugin contract (moss_plugins/reward/hookspecs.py)"
        )
        assert message.endswith("Fix or uninstall 'moss-wrong', or choose another similarity.")
        assert len(registry._pm.get_plugins()) == 1  # not left half-registered
    else:
        assert "similarity 'wrong' from 'moss-wrong'" in message


def test_a_name_two_distributions_provide_fails_when_selected_naming_both(site):
    twin = {"moss_plugins.similarities": {"twin": "moss_twin_plugin"}}
    install(site, "moss-twin-a", twin, {"moss_twin_plugin": "raise RuntimeError('imported')"})
    install(site, "moss-twin-b", twin)
    install(site, "moss-shadow", {"moss_plugins.similarities": {"rouge": "moss_twin_plugin"}})
    assert compute_score(None, OUTPUT, TRUTH)["reason"] == "ok"  # "facts", the default, is not contested
    with pytest.raises(
        registry.PluginError,
        match="similarity name 'twin' is provided by both 'moss-twin-[ab]' and 'moss-twin-[ab]'",
    ):
        compute_score(None, OUTPUT, TRUTH, similarity="twin")
    with pytest.raises(registry.PluginError, match="'rouge' is provided by both 'builtin' and 'moss-shadow'"):
        compute_score(None, OUTPUT, TRUTH, preset="paper")  # a built-in name cannot be taken over either
    with pytest.raises(registry.PluginError, match="'rouge' is provided by both"):
        registry.available("similarity")
    assert "moss_twin_plugin" not in sys.modules


def test_available_reads_metadata_and_imports_nothing(site):
    install(site, "moss-good", GOOD_ENTRY_POINTS, GOOD)
    assert registry.available("segmenter") == {"default": "builtin", "lines": "moss-good"}
    assert registry.available("similarity") == {
        "char3": "builtin",
        "exact": "moss-good",
        "facts": "builtin",
        "rouge": "builtin",
    }
    assert registry.available("reward_term") == {"one": "moss-good"}
    assert "moss_good_plugin" not in sys.modules
    from moss_plugins.evaluation.cli import _plugins

    assert _plugins(None) == 0 and "moss_good_plugin" not in sys.modules  # `moss plugins` neither
    RewardConfig(similarity="exact")  # loaded now: still listed once, under its distribution
    assert registry.available("similarity")["exact"] == "moss-good"


def test_builtins_resolve_without_any_install_metadata(site, monkeypatch):
    """The checkout also runs from PYTHONPATH alone, where moss-plugins itself has no dist-info."""
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **selection: [])
    assert compute_score(None, OUTPUT, TRUTH)["reason"] == "ok"
    assert compute_score(None, OUTPUT, TRUTH, preset="paper", similarity="char3")["reason"] == "ok"


class Provides:
    """A plugin defined by the running program: one hook, one component."""

    def __init__(self, hook: str, named: dict):
        setattr(self, hook, registry.hookspecs.hookimpl(lambda: named))


def test_contract_violations_are_loud(site):
    registry.register(Provides("moss_similarities", {"broken": lambda pred, ref: np.zeros((1, 1))}), "broken")
    r = compute_score(
        None,
        "<think>a\nb</think><answer>B</answer>",
        {"answer": "B", "trace": ["a", "b"]},
        similarity="broken",
    )
    assert r["reason"] == "error:PluginError"  # contained in the training loop, but visible
    registry.register(Provides("moss_similarities", {"rouge": None}), "shadow")
    with pytest.raises(registry.PluginError, match="'rouge' is provided by both 'builtin' and 'shadow'"):
        registry.available("similarity")
    with pytest.raises(registry.PluginError, match="'rouge' is provided by both 'builtin' and 'shadow'"):
        RewardConfig(preset="paper")
    install(
        site,
        "moss-odd",
        {"moss_plugins.reward_terms": {"odd": "moss_odd_plugin"}},
        {
            "moss_odd_plugin": """
        from moss_plugins.reward.hookspecs import hookimpl

        @hookimpl
        def moss_reward_terms():
            return {"odd": 3}
    """
        },
    )
    with pytest.raises(
        registry.PluginError,
        match="reward term 'odd' from 'moss-odd' is a int that does not fit fn.ctx. -> float",
    ):
        RewardConfig(extra_terms={"odd": 1.0})

    class Wrong:
        @registry.hookspecs.hookimpl
        def moss_segmenters(self, config):
            return {}

    with pytest.raises(
        registry.PluginError, match="plugin 'wrong' breaks the plugin contract .* Argument.s. {'config'}"
    ):
        registry.register(Wrong(), "wrong")
    assert not registry._pm.has_plugin("wrong")


def test_plugin_that_fails_to_import_names_its_distribution(site):
    install(site, "moss-bad", {"moss_plugins.similarities": {"bad": "moss_bad_plugin_missing_module"}})
    compute_score(None, "x", {"answer": "B", "trace": ["x"]})  # unselected: never imported
    with pytest.raises(registry.PluginError) as raised:
        compute_score(None, "x", {"answer": "B", "trace": ["x"]}, similarity="bad")
    assert "plugin 'bad'" in str(raised.value) and "'moss-bad' failed to load" in str(raised.value)


SAME = {
    "moss_cls_plugin": """
    import numpy as np

    from moss_plugins.reward.hookspecs import hookimpl

    class Same:
        made = []

        def __init__(self, value=2.0):
            Same.made.append(value)
            self.value = value

        def prepare(self, ref_steps):
            return len(ref_steps)

        def matrix(self, n_ref, pred_steps, config):
            return np.full((n_ref, len(pred_steps)), self.value)  # clipped into [0, 1]

    @hookimpl
    def moss_similarities():
        return {"same": Same}
"""
}


def test_a_class_is_built_once_per_options_block_and_gets_its_options(site):
    install(site, "moss-cls", {"moss_plugins.similarities": {"same": "moss_cls_plugin"}}, SAME)
    for _ in range(3):
        assert compute_score(None, OUTPUT, TRUTH, similarity="same")["process"] == pytest.approx(1.0)
    for _ in range(2):  # its own block, as verl passes it (reward.moss_dtw.plugins.same.value=0.0)
        assert (
            compute_score(None, OUTPUT, TRUTH, similarity="same", plugins={"same": {"value": 0.0}})["process"]
            == 0.0
        )
    assert sys.modules["moss_cls_plugin"].Same.made == [2.0, 0.0]
    with pytest.raises(
        ConfigError,
        match=r"reward option plugins.same=\{'valeu': 0.0\}: Same refuses these options: "
        r".*unexpected keyword argument 'valeu'",
    ):
        RewardConfig(similarity="same", plugins={"same": {"valeu": 0.0}})
    with pytest.raises(
        ConfigError, match="plugins.smae: no selected segmenter, similarity or reward term is called 'smae'"
    ):
        RewardConfig(similarity="same", plugins={"smae": {"value": 0.0}})
    with pytest.raises(ConfigError, match="plugins.default=.*'default' takes no options"):
        RewardConfig(plugins={"default": {"x": 1}})  # a function component


def test_registering_a_name_again_prepares_references_for_the_new_component(site):
    """A reference prepared for the first ``mine`` is not handed to the second one (prepared data are the
    component's own: here a different type)."""

    class Counts:
        def prepare(self, ref_steps):
            return len(ref_steps)

        def matrix(self, n_ref, pred_steps, config):
            return np.ones((n_ref, len(pred_steps)))

    class Texts:
        def prepare(self, ref_steps):
            return list(ref_steps)

        def matrix(self, refs, pred_steps, config):
            return np.array([[float(r == p) for p in pred_steps] for r in refs])

    truth = {"answer": "B", "trace": ["the door opens", "a cat walks in"]}
    output = "<think>Step 1: the door opens\nStep 2: a dog barks</think><answer>B</answer>"
    registry.register(Provides("moss_similarities", {"mine": Counts()}), "mine")
    assert compute_score(None, output, truth, similarity="mine")["process"] == pytest.approx(1.0)
    registry.register(
        Provides("moss_similarities", {"mine": Texts()}), "mine"
    )  # replaces the plugin of that name
    second = compute_score(None, output, truth, similarity="mine")
    assert second["reason"] == "ok" and second["process"] < 1.0


def test_the_reward_calls_observers_with_each_final_result(site):
    seen = []

    class Observer:
        @registry.hookspecs.hookimpl
        def moss_scored(self, result, ctx):
            seen.append((dict(result), ctx.steps, ctx.truth.answer))

    plain = compute_score(None, OUTPUT, TRUTH)
    registry.register(Observer(), "observer")
    assert compute_score(None, OUTPUT, TRUTH) == plain  # observing changes nothing
    ((result, steps, answer),) = seen
    assert result == plain and len(steps) == 2 and answer == "B"
