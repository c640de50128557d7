"""The installed package: what the core imports, that the environment imports cleanly without a GPU."""

import subprocess
import sys


def test_core_imports_no_training_or_eval_framework():
    code = (
        "import sys, moss_plugins.reward, moss_plugins.data, moss_plugins.prompt, moss_plugins.trace_metrics\n"
        "heavy = sorted(m for m in ('verl', 'lmms_eval', 'torch', 'transformers', 'ray', 'vllm') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_torch_and_torchvision_work_together_on_cpu():
    # A CPU-only torch next to PyPI's CUDA torchvision fails here with "operator torchvision::nms does not exist".
    code = (
        "import torch, torchvision\n"
        "boxes = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]])\n"
        "print(torchvision.ops.nms(boxes, torch.tensor([1., .5]), .5).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[0]"
