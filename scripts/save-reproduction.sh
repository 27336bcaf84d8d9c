#!/usr/bin/env bash
# Saves what a finished reproduction measured into the repository, where it outlives the machine:
# each run's manifest.json and results.csv (no weights), what `ensdef choices` measured on it if it ran, the reproduction's state (its sittings) where there
# is one, and the report rebuilt from exactly those files. test/unit/saved-reproductions.test.ts rebuilds it
# byte for byte.
# A reproduction too long for one sitting runs in parts (`reproduce --runs`), each saved under the same NAME
# when it ends. Runs an earlier save holds and OUT does not (parts run into another OUT, perhaps on another
# machine) are kept, and the two states' finished steps and sittings merged; to start NAME over, delete it first.
# Usage: scripts/save-reproduction.sh OUT NAME   (OUT: a reproduce --out, or the parent of a --runs-dir
# named runs/ that train and attack wrote; NAME: e.g. cifar10-standin-cpu). ENSDEF_REPRODUCTIONS_DIR: where
# NAME goes (default docs/reproductions).
set -euo pipefail
if [ $# -ne 2 ] || [ ! -d "$1/runs" ]; then
  echo "usage: scripts/save-reproduction.sh OUT NAME  (OUT holds runs/: a reproduce --out, or the parent of train's --runs-dir)" >&2
  exit 2
fi
out=$(cd "$1" && pwd)
root="$(cd "$(dirname "$0")/.." && pwd)"
parent="${ENSDEF_REPRODUCTIONS_DIR:-$root/docs/reproductions}"
mkdir -p "$parent"
dest="$(cd "$parent" && pwd)/$2"
# Assembled beside NAME and moved over it at the end: a failed save leaves the last one as it was.
staged="$dest.saving"
rm -rf "$staged"
mkdir -p "$staged/runs"
if [ -d "$dest/runs" ]; then
  for saved in "$dest"/runs/*/; do
    name=$(basename "$saved")
    if [ ! -f "$out/runs/$name/manifest.json" ]; then
      cp -r "$saved" "$staged/runs/"
      echo "kept $name (saved before; $out does not hold it)"
    fi
  done
fi
for run in "$out"/runs/*/; do
  [ -f "$run/manifest.json" ] || continue
  name=$(basename "$run")
  mkdir -p "$staged/runs/$name"
  cp "$run/manifest.json" "$staged/runs/$name/"
  for measured in results.csv open-choices.csv open-choices.md alignment.json; do
    if [ -f "$run/$measured" ]; then cp "$run/$measured" "$staged/runs/$name/"; fi
  done
done
state=reproduce-state.json
if [ -f "$out/$state" ] && [ -f "$dest/$state" ]; then
  (cd "$root" && node --import tsx scripts/merge-reproduce-state.ts "$dest/$state" "$out/$state" "$staged/$state") || { rm -rf "$staged"; exit 1; }
elif [ -f "$out/$state" ]; then
  cp "$out/$state" "$staged/"
elif [ -f "$dest/$state" ]; then
  cp "$dest/$state" "$staged/"
fi
node "$root/bin/ensdef.js" report --runs "$staged/runs" --out "$staged/report"
rm -rf "$dest"
mv "$staged" "$dest"
echo "saved $out as $dest"
