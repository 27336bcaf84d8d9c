#!/usr/bin/env bash
# Saves what a finished reproduction measured into the repository, where it outlives the machine:
# each run's manifest.json and results.csv (no weights), what `ensdef choices` measured on it if it ran, the reproduction's state (its sittings) where there
# is one, and the report rebuilt from exactly those files. test/unit/saved-reproductions.test.ts rebuilds it
# byte for byte.
# Usage: scripts/save-reproduction.sh OUT NAME   (OUT: a reproduce --out, or the parent of a --runs-dir
# named runs/ that train and attack wrote; NAME: e.g. cifar10-standin-cpu)
set -euo pipefail
if [ $# -ne 2 ] || [ ! -d "$1/runs" ]; then
  echo "usage: scripts/save-reproduction.sh OUT NAME  (OUT holds runs/: a reproduce --out, or the parent of train's --runs-dir)" >&2
  exit 2
fi
out=$1
dest="$(cd "$(dirname "$0")/.." && pwd)/docs/reproductions/$2"
rm -rf "$dest"
mkdir -p "$dest/runs"
if [ -f "$out/reproduce-state.json" ]; then cp "$out/reproduce-state.json" "$dest/"; fi
for run in "$out"/runs/*/; do
  [ -f "$run/manifest.json" ] || continue
  name=$(basename "$run")
  mkdir -p "$dest/runs/$name"
  cp "$run/manifest.json" "$dest/runs/$name/"
  for measured in results.csv open-choices.csv open-choices.md alignment.json; do
    if [ -f "$run/$measured" ]; then cp "$run/$measured" "$dest/runs/$name/"; fi
  done
done
node "$(dirname "$0")/../bin/ensdef.js" report --runs "$dest/runs" --out "$dest/report"
echo "saved $out as $dest"
