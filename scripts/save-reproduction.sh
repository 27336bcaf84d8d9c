#!/usr/bin/env bash
# Saves what a finished reproduction measured into the repository, where it outlives the machine:
# each run's manifest.json and results.csv (no weights), the reproduction's state (its sittings), and the
# report rebuilt from exactly those files. test/unit/saved-reproductions.test.ts rebuilds it byte for byte.
# Usage: scripts/save-reproduction.sh OUT NAME   (OUT: a reproduce --out; NAME: e.g. cifar10-standin-cpu)
set -euo pipefail
if [ $# -ne 2 ] || [ ! -d "$1/runs" ] || [ ! -f "$1/reproduce-state.json" ]; then
  echo "usage: scripts/save-reproduction.sh OUT NAME  (OUT holds a reproduction: runs/ and reproduce-state.json)" >&2
  exit 2
fi
out=$1
dest="$(cd "$(dirname "$0")/.." && pwd)/docs/reproductions/$2"
rm -rf "$dest"
mkdir -p "$dest/runs"
cp "$out/reproduce-state.json" "$dest/"
for run in "$out"/runs/*/; do
  [ -f "$run/manifest.json" ] || continue
  name=$(basename "$run")
  mkdir -p "$dest/runs/$name"
  cp "$run/manifest.json" "$dest/runs/$name/"
  if [ -f "$run/results.csv" ]; then cp "$run/results.csv" "$dest/runs/$name/"; fi
done
node "$(dirname "$0")/../bin/ensdef.js" report --runs "$dest/runs" --out "$dest/report"
echo "saved $out as $dest"
