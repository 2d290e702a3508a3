#!/usr/bin/env bash
# Copies a sweep's light records (never weights, data or checkpoints) into a results folder to
# commit, then writes its report there:
#   bash scripts/export_results.sh runs/quick results/quick [--no-predictions]
# A folder of several sweeps (e.g. runs/landscape-quick holding tube/ and span/, each with its
# sweep.yaml) is exported sweep by sweep into RESULTS_FOLDER/runs/<sweep folder>, under one report.
# Per point: sweep_point.json, sweep_config.yaml, stp_config.yaml, provenance.json, initial_losses.json, metrics.json,
# trainer_state.json, failed.json and eval/<task>/{eval.json,predictions.jsonl} when present.
# Only finished or failed points (metrics.json or failed.json) are exported: one still running or
# interrupted is left out (and an earlier export's copy of it removed), and the script says which.
# --no-predictions leaves predictions.jsonl out (it quotes every test prompt and reference: use it
# when the test data may not be published with the results, e.g. the paper's own files).
set -euo pipefail
src=${1:?usage: export_results.sh SWEEP_FOLDER RESULTS_FOLDER}
dst=${2:?usage: export_results.sh SWEEP_FOLDER RESULTS_FOLDER [--no-predictions]}
predictions=yes
[ "${3:-}" = "--no-predictions" ] && predictions=no

export_sweep() {  # export_sweep SWEEP_FOLDER OUT_FOLDER
  local from=$1 to=$2 point out report task_dir name
  mkdir -p "$to"
  for name in sweep.yaml sweep_state.json; do
    [ -f "$from/$name" ] && cp "$from/$name" "$to/$name"
  done
  for point in "$from"/*/; do
    [ -f "$point/sweep_point.json" ] || continue
    out="$to/$(basename "$point")"
    if [ ! -f "$point/metrics.json" ] && [ ! -f "$point/failed.json" ]; then
      echo "export_results.sh: left out $(basename "$point"): not finished (no metrics.json or failed.json yet)" >&2
      [ -d "$out" ] && [ ! -f "$out/metrics.json" ] && [ ! -f "$out/failed.json" ] && rm -r "$out"
      continue
    fi
    mkdir -p "$out"
    for name in sweep_point.json sweep_config.yaml stp_config.yaml provenance.json initial_losses.json metrics.json trainer_state.json failed.json; do
      [ -f "$point/$name" ] && cp "$point/$name" "$out/$name"
    done
    for report in "$point"/eval/*/eval.json; do
      [ -f "$report" ] || continue
      task_dir="$out/eval/$(basename "$(dirname "$report")")"
      mkdir -p "$task_dir"
      cp "$report" "$task_dir/"
      [ "$predictions" = yes ] && cp "$(dirname "$report")/predictions.jsonl" "$task_dir/"
    done
  done
  return 0
}

if [ -f "$src/sweep.yaml" ]; then
  export_sweep "$src" "$dst/runs"
else
  found=no
  for sweep in "$src"/*/; do
    [ -f "$sweep/sweep.yaml" ] || continue
    export_sweep "$sweep" "$dst/runs/$(basename "$sweep")"
    found=yes
  done
  [ "$found" = yes ] || { echo "export_results.sh: $src holds no sweep.yaml, nor any folder with one" >&2; exit 2; }
fi
stp report "$dst/runs" --out "$dst"
