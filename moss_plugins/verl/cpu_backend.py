"""A CPU backend for verl, for smoke tests and debugging a recipe on a laptop before GPU hours are spent.

verl has no CPU mode (verl issue #3266), but its trainer is built on registries: this module adds, only when
``VERL_PLATFORM=cpu`` is set (:mod:`moss_plugins.verl.plugin` imports it then, in every Ray process):

- a ``cpu`` platform in ``verl.plugin.platform`` (device ``cpu``, backend ``gloo``, no-op memory calls; Ray still
  schedules one *logical* GPU, because verl's worker groups always ask for one);
- verl's FSDP engines under the device key ``cpu`` in ``EngineRegistry`` (they are registered for cuda/npu only);
- the rollout ``hf_generate`` (:mod:`moss_plugins.verl.cpu_rollout`) in verl's rollout and replica registries;
- two patches of verl 0.9 code that assume an accelerator. Each is applied only on a verl release it was read
  against and fails with one line on any other (:mod:`moss_plugins.verl.supported`), instead of silently
  patching code that may have changed.

Limits: one process does the work of a GPU (``trainer.n_gpus_per_node=1``), FSDP2 only, no remove-padding, no
flash attention, and speed is tiny-model speed (tens of seconds per step). It shows that a recipe's config, data,
reward and trainer fit together; it says nothing about GPU memory or throughput.
"""

from __future__ import annotations

import functools
import logging
import os
import types
from contextlib import contextmanager

from .supported import require_supported_verl

log = logging.getLogger("moss_plugins.verl.cpu_backend")

PLATFORM = "cpu"
ROLLOUT = "hf_generate"
INSTEAD = "unset VERL_PLATFORM=cpu"


def is_requested() -> bool:
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == PLATFORM


class _CPUDeviceModule(types.ModuleType):
    """``torch.cpu`` plus the ``torch.cuda`` calls verl makes on its device module (memory, RNG, IPC), as no-ops
    or their CPU meaning."""

    def __getattr__(self, name):
        import torch  # here, not at the top: run.sh --smoke imports this module without needing torch

        return getattr(torch.cpu, name)

    @staticmethod
    def empty_cache():
        return None

    ipc_collect = reset_peak_memory_stats = empty_cache

    @staticmethod
    def memory_allocated(*_, **__):
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    @staticmethod
    def mem_get_info(*_, **__):
        import psutil

        memory = psutil.virtual_memory()
        return memory.available, memory.total

    @staticmethod
    def set_per_process_memory_fraction(*_, **__):
        return None

    @staticmethod
    def get_rng_state(*_, **__):
        import torch

        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state, *_, **__):
        import torch

        torch.set_rng_state(state)

    @staticmethod
    def manual_seed(seed):
        import torch

        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def get_device_name(*_, **__):
        return "cpu"


CPU_DEVICE = _CPUDeviceModule("moss_plugins_cpu_device")


def _platform_class():
    import torch
    from verl.plugin.platform import PlatformBase

    class PlatformCPU(PlatformBase):
        """verl's platform interface on the CPU: gloo collectives, no memory management, no profiler."""

        device_name = "cpu"
        vendor_name = "cpu"
        device_module = CPU_DEVICE

        def is_available(self) -> bool:
            return True

        def is_platform_available(self, use_smi_check=False) -> bool:
            return is_requested()  # never auto-detected: only VERL_PLATFORM=cpu selects it

        def current_device(self) -> str:
            # verl moves tensors with .to(get_device_id()): an index would mean CUDA, "cpu" means the CPU.
            return "cpu"

        def device_count(self) -> int:
            return 1

        def set_device(self, device_index: int) -> None:
            return None

        def synchronize(self, device_index=None) -> None:
            return None

        def manual_seed(self, seed: int) -> None:
            torch.manual_seed(seed)

        manual_seed_all = manual_seed

        def set_allocator_settings(self, settings: str) -> None:
            return None

        def empty_cache(self) -> None:
            return None

        def get_device_capability(self, device_index: int = 0):
            return None, None

        def communication_backend_name(self) -> str:
            return "gloo"

        def visible_devices_envvar(self) -> str:
            # Ray sets it for the logical GPU; torch ignores it without CUDA.
            return "CUDA_VISIBLE_DEVICES"

        @contextmanager
        def nvtx_range(self, msg: str):
            yield

        def profiler_start(self) -> None:
            return None

        profiler_stop = profiler_start

        def ray_resource_name(self) -> str:
            # verl's RayWorkerGroup always asks Ray for accelerators (use_gpu=True): one logical GPU, declared
            # with ray_kwargs.ray_init.num_gpus, stands for this process.
            return "GPU"

        def ray_noset_envvars(self) -> list[str]:
            return []

        def is_ipc_supported(self) -> bool:
            return False

        def cudart(self):
            return None

    return PlatformCPU


def register_platform() -> None:
    from verl.plugin.platform import PlatformRegistry

    if PlatformRegistry.get(PLATFORM) is None:
        PlatformRegistry.register(platform=PLATFORM)(_platform_class())


def register_engines() -> None:
    """verl's FSDP engines, registered for cuda/npu only, also under the device key ``cpu``."""
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

    for model_type, engine in (
        ("language_model", FSDPEngineWithLMHead),
        ("value_model", FSDPEngineWithValueHead),
    ):
        if PLATFORM not in EngineRegistry._engines.get(model_type, {}).get("fsdp2", {}):
            EngineRegistry.register(model_type=model_type, backend=["fsdp", "fsdp2"], device=PLATFORM)(engine)


def patch_process_group_backend() -> None:
    """verl.utils.distributed builds ``cpu:gloo,{device}:{backend}``: on the CPU that is ``cpu:gloo,cpu:gloo``,
    which torch rejects. Default it to ``cpu:gloo``; an explicit backend is passed through."""
    require_supported_verl("the CPU backend's patch 'process-group backend cpu:gloo'", INSTEAD)
    from verl.utils import distributed

    original = distributed.initialize_global_process_group_ray
    if getattr(original, "_moss_cpu", False):
        return

    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        return original(timeout_second=timeout_second, backend=backend or "cpu:gloo")

    initialize_global_process_group_ray._moss_cpu = True
    distributed.initialize_global_process_group_ray = initialize_global_process_group_ray
    # engine_workers binds the name at import; patch it there too when it is already imported.
    import sys

    workers = sys.modules.get("verl.workers.engine_workers")
    if workers is not None:
        workers.initialize_global_process_group_ray = initialize_global_process_group_ray


def patch_offload_pinning() -> None:
    """verl's FSDP2 engine gives the reference model ``CPUOffloadPolicy(pin_memory=True)``; pinning needs a CUDA
    driver. On the CPU the same policy with ``pin_memory=False``."""
    require_supported_verl("the CPU backend's patch 'CPUOffloadPolicy(pin_memory=False)'", INSTEAD)
    import dataclasses

    import verl.workers.engine.fsdp.transformer_impl as impl

    policy = impl.CPUOffloadPolicy
    if policy is None or getattr(policy, "_moss_cpu", False):
        return

    @dataclasses.dataclass
    class UnpinnedCPUOffloadPolicy(policy):
        _moss_cpu = True

        def __post_init__(self):
            self.pin_memory = False

    impl.CPUOffloadPolicy = UnpinnedCPUOffloadPolicy


def activate() -> None:
    """Everything above; idempotent (every Ray process imports the plugin once). The rollout registers itself
    (:func:`moss_plugins.verl.cpu_rollout.register`, called by the plugin right after)."""
    register_platform()
    patch_process_group_backend()
    patch_offload_pinning()
    register_engines()
    log.info("moss-plugins: verl CPU backend active (platform %s, rollout %s)", PLATFORM, ROLLOUT)
