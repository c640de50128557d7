"""``run.sh --smoke``: two real GRPO steps of verl's trainer on the CPU, with the recipe's own ``config.yaml``.

    python -m moss_plugins.verl.smoke RECIPE_DIR --family qwen2_5_vl [--out DIR] [override ...]

What runs is ``python -m verl.trainer.main_ppo --config-path RECIPE_DIR --config-name config`` with
``VERL_PLATFORM=cpu`` (:mod:`moss_plugins.verl.cpu_backend`), a tiny randomly initialised model of the recipe's
family built here (:mod:`moss_plugins.testing.tiny_models`, no download), the bundled mini split exported into the output
folder (or the files given with ``data.train_files=``/``data.val_files=``), and :data:`SMOKE` on top of the
recipe: 2 steps, 2 prompts x 4 rollouts, 64 response tokens, 4 frames, validation on 4 test rows after the
last step. Later overrides win. The output folder keeps the model, the data, the trainer log (``train.log``),
the rollout server's weight log (``rollout.jsonl``) and the validation generations (``val/``).

While the trainer runs, the memory of its whole process tree (Ray's processes included) is sampled; the summary
line gives the peak (sum of RSS, and sum of PSS, which counts shared pages once) and the time per step.

``--nodes N`` (N > 1) runs the same steps with ``trainer.nnodes=N`` on a Ray cluster of N nodes started on this
machine with ``ray start`` (:mod:`moss_plugins.testing.ray_cluster`: token authentication on, 8 logical CPUs,
one logical GPU and a 200 MB object store per node), which verl joins instead of starting its own Ray; the
nodes' processes count in the memory too, and every node is stopped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..testing import tiny_models as tiny

# The CPU settings (verl keys; --check knows them all) laid over the recipe's config.
SMOKE = (
    "trainer.device=cpu",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    "trainer.logger=[console]",
    "trainer.total_training_steps=2",
    "trainer.val_before_train=false",
    "trainer.test_freq=2",
    "trainer.save_freq=-1",
    "data.train_batch_size=2",
    "data.val_batch_size=4",
    "data.val_max_samples=4",
    "data.max_response_length=64",
    "data.dataloader_num_workers=0",
    "data.moss_video.max_frames=4",
    "data.moss_video.min_frames=4",
    "data.moss_video.max_pixels=12544",
    "data.moss_video.min_pixels=12544",
    "actor_rollout_ref.rollout.name=hf_generate",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
    "actor_rollout_ref.rollout.agent.num_workers=1",
    "actor_rollout_ref.actor.strategy=fsdp2",
    "actor_rollout_ref.actor.ppo_mini_batch_size=2",
    "actor_rollout_ref.model.use_remove_padding=false",
    "actor_rollout_ref.model.enable_gradient_checkpointing=false",
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    # FSDP computes in bf16 unless told otherwise; a CPU without bf16 units (AVX2) emulates it ~70x slower
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=fp32",
    "+actor_rollout_ref.ref.fsdp_config.mixed_precision.param_dtype=fp32",
    "actor_rollout_ref.actor.fsdp_config.use_torch_compile=false",
    "actor_rollout_ref.ref.fsdp_config.use_torch_compile=false",
    "reward.num_workers=1",
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
    "ray_kwargs.ray_init.num_cpus=8",
    "+ray_kwargs.ray_init.num_gpus=1",
    "+ray_kwargs.ray_init.address=local",
    "+ray_kwargs.ray_init.object_store_memory=200000000",
    "+ray_kwargs.ray_init.include_dashboard=false",
)

# ray.init settings of SMOKE that a cluster sets itself (ray.init refuses them when it joins one).
CLUSTER_OWNS = ("num_cpus", "num_gpus", "object_store_memory", "include_dashboard")

STEP_LINE = re.compile(r"step:(\d+) - (.*)")


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and all its descendants until stopped.

    Reading PSS walks every page table: a verl tree of 20 processes takes ~0.2 s of CPU per sample, which every
    0.5 s kept a third of a core busy through a whole training run. So the sampler waits at least ``idle`` times
    as long as its last sample took, using at most 1 / (1 + idle) of one core."""

    idle = 9

    def __init__(self, pids: list[int], interval: float = 0.5):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.peak_rss = self.peak_pss = 0
        self.at_peak: list[tuple[str, int, int]] = []  # (name, rss, pss) of each process at the PSS peak
        self.seen: set[int] = set()
        self._done = threading.Event()

    def run(self):
        import psutil

        while not self._done.is_set():
            began = time.perf_counter()
            procs = []
            for pid in self.pids:
                try:
                    root = psutil.Process(pid)
                    procs += [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
            if not procs:
                return
            sample = []
            for proc in procs:
                try:
                    info, name = proc.memory_full_info(), proc.name()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                self.seen.add(proc.pid)
                sample.append((name, info.rss, getattr(info, "pss", info.rss)))
            rss, pss = sum(s[1] for s in sample), sum(s[2] for s in sample)
            self.peak_rss = max(self.peak_rss, rss)
            if pss > self.peak_pss:
                self.peak_pss, self.at_peak = pss, sorted(sample, key=lambda s: -s[2])
            self._done.wait(max(self.interval, self.idle * (time.perf_counter() - began)))

    def stop(self):
        self._done.set()
        self.join(timeout=5)


def step_metrics(log: str) -> dict[int, dict[str, str]]:
    """``{step: {metric: value}}`` from verl's console ``step:N - key:value - ...`` lines."""
    steps = {}
    for match in STEP_LINE.finditer(log):
        fields = (item.split(":", 1) for item in match.group(2).split(" - ") if ":" in item)
        steps[int(match.group(1))] = {k.strip(): v.strip() for k, v in fields}
    return steps


def build_inputs(family: str, out: Path, overrides: list[str]) -> list[str]:
    """The tiny model (with weights) and, unless given, the exported mini split; returns the full override list."""
    from .rows import mini_split_overrides

    model_dir = tiny.build(family, out / "model", weights=True)
    data = mini_split_overrides(out / "data", overrides)
    return [
        f"actor_rollout_ref.model.path={model_dir}",
        *data,
        *SMOKE,
        f"trainer.default_local_dir={out / 'checkpoints'}",
        f"trainer.validation_data_dir={out / 'val'}",
        *overrides,
    ]


def _tree(pids: list[int]) -> set[int]:
    """These processes and their descendants now."""
    import psutil

    out = set()
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            out |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
    return out


def _kill(pids: set[int]) -> None:
    """Ends the processes of this run that outlived the trainer (Ray's, mostly), by id."""
    import psutil

    alive = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            proc.terminate()
            alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(alive, timeout=10)
    for proc in alive:
        proc.kill()


def run_main_ppo(
    recipe: Path, args: list[str], out: Path, cpu: bool = True, echo: bool = True, nodes: int = 1
) -> dict:
    """``main_ppo`` with ``recipe``'s config and ``args`` (on the CPU backend when ``cpu``; across ``nodes`` Ray
    nodes started on this machine when more than one), its log appended to ``out/train.log``, its process
    tree's memory sampled and what outlives it ended; returns the summary (exit code, wall time, steps and
    their times, peak memory), also written to ``out/summary.json``."""
    log_path, rollout_log = out / "train.log", out / "rollout.jsonl"
    rollout_log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MOSS_CPU_ROLLOUT_LOG": str(rollout_log),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "RAY_DEDUP_LOGS": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        **({"VERL_PLATFORM": "cpu"} if cpu else {}),
    }
    start = time.time()
    with contextlib.ExitStack() as stack:
        node_pids = []
        if nodes > 1:  # the nodes' workers run verl: they need the same environment as the trainer
            from ..testing.ray_cluster import local_cluster

            cluster = stack.enter_context(
                local_cluster(nodes - 1, cpus_per_node=8, gpus_per_node=1, object_store_mb=200, env=env)
            )
            env, node_pids = dict(cluster.env), [n.process.pid for n in cluster.nodes]
            args = [
                *args,
                f"trainer.nnodes={nodes}",
                f"ray_kwargs.ray_init.address={cluster.address}",
                *(f"~ray_kwargs.ray_init.{k}" for k in CLUSTER_OWNS),
            ]
        cmd = [
            sys.executable,
            "-m",
            "verl.trainer.main_ppo",
            "--config-path",
            str(recipe),
            "--config-name",
            "config",
            *args,
        ]
        with open(log_path, "a") as log:  # a resumed run continues the same log
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            memory = TreeMemory([proc.pid, *node_pids])
            memory.start()
            for line in proc.stdout:
                if echo:
                    sys.stdout.write(line)
                log.write(line)
            code = proc.wait()
        memory.stop()
        _kill(memory.seen - {proc.pid} - _tree(node_pids))  # the nodes' processes: stopped with their node
    wall = time.time() - start
    steps = step_metrics(log_path.read_text())
    times = [float(m["timing_s/step"]) for m in steps.values() if "timing_s/step" in m]
    summary = {
        "recipe": recipe.name,
        "nodes": nodes,
        "exit_code": code,
        "wall_s": round(wall, 1),
        "steps": sorted(steps),
        "step_s": [round(t, 1) for t in times],
        "peak_rss_gb": round(memory.peak_rss / 1e9, 2),
        "peak_pss_gb": round(memory.peak_pss / 1e9, 2),
        "out": str(out),
    }
    processes = [{"name": n, "rss_mb": r >> 20, "pss_mb": p >> 20} for n, r, p in memory.at_peak]
    (out / "summary.json").write_text(json.dumps({**summary, "processes_at_peak": processes}, indent=1))
    return summary


def run_smoke(recipe: Path, family: str, overrides: list[str], out: Path, nodes: int = 1) -> int:
    out.mkdir(parents=True, exist_ok=True)
    where = f"{nodes} Ray nodes on this machine" if nodes > 1 else "the CPU"
    print(f"== {recipe.name}: --smoke (verl's GRPO trainer on {where}; output in {out})", flush=True)
    # In a child process: torch and transformers would stay in this one's memory for the whole run.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        args = pool.submit(build_inputs, family, out, overrides).result()
    (out / "train.log").unlink(missing_ok=True)
    summary = run_main_ppo(recipe, args, out, nodes=nodes)
    code = summary["exit_code"]
    print(f"== smoke {'passed' if code == 0 else 'FAILED'}: {json.dumps(summary)}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    from importlib.metadata import version

    from .supported import UnsupportedVerl, require_supported_verl

    try:  # before anything starts: every Ray process would refuse the same verl (plugin.py)
        require_supported_verl("the CPU backend (run.sh --smoke)", version=version("verl"))
    except UnsupportedVerl as e:
        print(e, file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(prog="run.sh --smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="the recipe folder (holding config.yaml)")
    parser.add_argument(
        "--family", choices=tiny.FAMILIES, required=True, help="the model family of the recipe"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: a new temporary folder, kept)")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="Ray nodes to start on this machine with `ray start` and train across (trainer.nnodes)",
    )
    args, overrides = parser.parse_known_args(argv)
    if args.nodes < 1:
        parser.error(f"--nodes must be >= 1, got {args.nodes}")
    out = args.out or Path(tempfile.mkdtemp(prefix=f"moss-smoke-{args.recipe.resolve().name}-"))
    return run_smoke(args.recipe.resolve(), args.family, overrides, out.resolve(), args.nodes)


if __name__ == "__main__":
    sys.exit(main())
