#!/usr/bin/env bash
# Copies a sweep's light records (never weights, data or checkpoints) into a results folder to
# commit, then writes its report there:
#   bash scripts/export_results.sh runs/quick results/quick [--no-predictions]
# Per point: sweep_point.json, sweep_config.yaml, stp_config.yaml, provenance.json, initial_losses.json, metrics.json,
# trainer_state.json, failed.json and eval/<task>/{eval.json,predictions.jsonl} when present.
# --no-predictions leaves predictions.jsonl out (it quotes every test prompt and reference: use it
# when the test data may not be published with the results, e.g. the paper's own files).
set -euo pipefail
src=${1:?usage: export_results.sh SWEEP_FOLDER RESULTS_FOLDER}
dst=${2:?usage: export_results.sh SWEEP_FOLDER RESULTS_FOLDER [--no-predictions]}
predictions=yes
[ "${3:-}" = "--no-predictions" ] && predictions=no
mkdir -p "$dst/runs"
for name in sweep.yaml sweep_state.json; do
  [ -f "$src/$name" ] && cp "$src/$name" "$dst/runs/$name"
done
for point in "$src"/*/; do
  [ -f "$point/sweep_point.json" ] || continue
  out="$dst/runs/$(basename "$point")"
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
stp report "$dst/runs" --out "$dst"
