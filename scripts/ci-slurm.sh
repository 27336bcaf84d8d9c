#!/usr/bin/env bash
# CI's Slurm checks (called by .ci/run; runnable alone): installs Debian's slurm-wlm and munge if needed,
# brings up a one-node cluster (scripts/slurm-local.sh), runs the tests that need one, then
#   1. the smoke reproduction as Slurm jobs, whose report must equal REFERENCE_REPORT byte for byte;
#   2. the same with one training array task cancelled mid-training and the reproduction resubmitted;
# and brings the cluster down. Usage: scripts/ci-slurm.sh REFERENCE_REPORT (a local smoke report).
set -euo pipefail
cd "$(dirname "$0")/.."
reference=$(realpath -m "$1")
out=$(mktemp -d)
if ! command -v slurmctld >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
eval "$(scripts/slurm-local.sh up)"
trap 'scripts/slurm-local.sh down' EXIT

# Waits until no job of the reproduction in $1 is queued or running, then prints its status.
wait_for() {
  local started=$SECONDS status
  # (the status is read whole before grep looks at it: grep -q would close the pipe early)
  while status=$(npx ensdef reproduce --status --out "$1") && grep -qE '^(queued|running) ' <<< "$status"; do sleep 5; done
  awk '{print $1}' <<< "$status" | sort | uniq -c
  echo "ci: jobs of $1 ended after $((SECONDS - started)) s"
}

# The tests that need a cluster (skipped by npm test above when there was none).
node --import tsx --test test/e2e/slurm-cluster.test.ts

# 1. The smoke reproduction as Slurm jobs: the same report, byte for byte.
started=$SECONDS
npx ensdef reproduce --backend wasm --preset smoke --executor slurm --out "$out/slurm" > "$out/slurm-jobs.txt"
wait_for "$out/slurm"
status=$(npx ensdef reproduce --status --out "$out/slurm")
if grep -v '^done ' <<< "$status"; then echo "ci: steps not done"; exit 1; fi
diff -r "$reference" "$out/slurm/report"
echo "ci: Slurm smoke reproduction: report identical to the local one ($((SECONDS - started)) s)"

# 2. One array task cancelled mid-training, the reproduction resubmitted: again the same report.
started=$SECONDS
npx ensdef reproduce --backend wasm --preset smoke --executor slurm --out "$out/cancel" > "$out/cancel-jobs.txt"
# The target: adversarial training (an FGSM pass per step: the longest training of the smoke preset),
# queued behind other runs, so it starts after the submission has returned.
target=mnist-adversarial-training
array=$(awk -F'\t' -v step="train:$target" '$3 == step {print $1}' "$out/cancel-jobs.txt")
# Its log's first line comes when the process starts; training starts about a second later and lasts
# several: cancel it two seconds after that line.
for _ in $(seq 1 3000); do
  if grep -qs '^backend ' "$out"/cancel/slurm/logs/*-"${array}"_0.log; then break; fi
  sleep 0.2
done
sleep 2
scancel "${array}_0"
echo "ci: cancelled task ${array}_0 (train:$target) mid-training"
wait_for "$out/cancel"
test ! -e "$out/cancel/runs/$target/members/member-00/record.json" || { echo "ci: the task finished before it was cancelled"; exit 1; }
npx ensdef reproduce --backend wasm --preset smoke --executor slurm --out "$out/cancel"
wait_for "$out/cancel"
diff -r "$reference" "$out/cancel/report"
echo "ci: Slurm reproduction with a cancelled task, resubmitted: report identical ($((SECONDS - started)) s)"
