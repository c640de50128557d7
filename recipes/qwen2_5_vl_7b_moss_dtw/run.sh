#!/usr/bin/env bash
# GRPO with the MOSS-ChatV DTW process reward on Qwen2.5-VL-7B-Instruct: verl 0.9, vLLM rollout, FSDP actor.
# Settings: config.yaml. Hardware, time and expected results: README.md.
#
#   ./run.sh --check [override ...]   dry run on CPU: config, data, dataset, reward (no GPU, no download)
#   ./run.sh --smoke [override ...]   2 real GRPO steps of verl's trainer on CPU, tiny model (no download)
#   MOSS_DATA=DIR ./run.sh [override ...]
#                                     train on this node (8 GPUs); DIR from `moss data export --format verl`
#   MOSS_DATA=DIR NNODES=2 ./run.sh   train on a 2-node Ray cluster, started beforehand:
#                                       head node:   ray start --head --port=6379
#                                       other nodes: ray start --address=<head-ip>:6379
#                                     then run this on the head node.
# Overrides are Hydra's, e.g. trainer.n_gpus_per_node=4 data.train_batch_size=64.
exec "$(dirname "$0")/../moss_verl_run.sh" "$(dirname "$0")" qwen2_5_vl "$@"
