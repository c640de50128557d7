#!/usr/bin/env bash
# The launcher behind recipes/*_moss_dtw/run.sh: moss_verl_run.sh RECIPE_DIR FAMILY [--check|--smoke] [override ...]
#   --check     python -m moss_plugins.verl.check: config, data, dataset and reward on CPU, no download
#   --smoke     python -m moss_plugins.verl.smoke: 2 GRPO steps of verl's trainer on CPU, tiny model, no download
#   otherwise   python -m verl.trainer.main_ppo with the recipe's config.yaml; NNODES > 1 joins the Ray
#               cluster started with `ray start` (verl's ray.init reads RAY_ADDRESS).
# MOSS_DATA: the folder written by `moss data export --format verl` (train.parquet, test.parquet).
set -euo pipefail
RECIPE=$(cd "$1" && pwd)
FAMILY=$2
shift 2
PYTHON=${PYTHON:-python}
DATA=()
if [[ -n "${MOSS_DATA:-}" ]]; then
    DATA=(data.train_files="$MOSS_DATA/train.parquet" data.val_files="$MOSS_DATA/test.parquet")
fi

case "${1:-}" in
    --check|--smoke)
        MODULE=moss_plugins.verl.${1#--}
        shift
        exec "$PYTHON" -m "$MODULE" "$RECIPE" --family "$FAMILY" "${DATA[@]}" "$@" ;;
esac

: "${MOSS_DATA:?set MOSS_DATA to the folder written by: moss data export --format verl --in DIR --out FOLDER}"
NNODES=${NNODES:-1}
if (( NNODES > 1 )); then
    export RAY_ADDRESS=${RAY_ADDRESS:-auto}
fi
set -x
exec "$PYTHON" -m verl.trainer.main_ppo --config-path "$RECIPE" --config-name config \
    "${DATA[@]}" trainer.nnodes="$NNODES" "$@"
