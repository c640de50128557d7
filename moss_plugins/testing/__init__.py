"""Tooling for tests, smoke runs and demos: tiny local models, example traces, rollout factories.

Nothing in the reward, data or evaluation code imports it; the verl adapter's ``run.sh --check`` and ``--smoke``
do (to run the real trainer offline), and so do the demos and the benchmarks.
"""
