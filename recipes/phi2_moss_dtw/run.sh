#!/usr/bin/env bash
# GRPO with the MOSS-ChatV DTW process reward on Phi-2, a text-only model: the video arrives as timestamped
# captions of the frames before the cut. verl 0.9, vLLM rollout, FSDP actor.
# Settings: config.yaml. Hardware, time and what to expect: README.md.
#
#   ./run.sh --check [override ...]   dry run on CPU: config, data, dataset, reward (no GPU, no download)
#   ./run.sh --smoke [override ...]   2 real GRPO steps of verl's trainer on CPU, tiny model (no download)
#   MOSS_DATA=DIR ./run.sh [override ...]
#                                     train on this node (4 GPUs); DIR from `moss data export --format verl`
#   MOSS_DATA=DIR NNODES=2 ./run.sh   train on a 2-node Ray cluster (`ray start --head` on the head node,
#                                     `ray start --address=<head-ip>:6379` on the others), run on the head node.
exec "$(dirname "$0")/../moss_verl_run.sh" "$(dirname "$0")" phi2 "$@"
