"""Hydra configs for verl: ``reward/moss_dtw.yaml`` and ``data/moss_video.yaml`` (a package so ``pkg://`` finds it)."""
