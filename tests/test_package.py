"""The installed package: what the core imports, that the environment imports cleanly without a GPU."""

import subprocess
import sys


def test_core_imports_no_training_or_eval_framework():
    # A fresh interpreter: this one may already hold torch or ray from other tests.
    code = (
        "import sys, moss_plugins.reward, moss_plugins.data, moss_plugins.output_format, moss_plugins.evaluation.trace_metrics\n"
        "heavy = sorted(m for m in ('verl', 'lmms_eval', 'torch', 'transformers', 'ray', 'vllm') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_torch_and_torchvision_work_together_on_cpu():
    # A CPU-only torch next to PyPI's CUDA torchvision fails here with "operator torchvision::nms does not exist".
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    assert torchvision.ops.nms(boxes, torch.tensor([1.0, 0.5]), 0.5).tolist() == [0]
