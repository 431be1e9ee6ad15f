#!/usr/bin/env bash
# swap-dist.sh DIR: point dist (a symbolic link) at DIR, a finished build beside it (.dist-*), with
# one rename(2), so that dist/ is at every moment either the old build or the new one. The build
# dist pointed at before is kept (a process started from it may still load modules lazily); older
# finished builds are removed, and unfinished ones left by a killed build after an hour.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
new=$(basename "$1")
if [[ ! -d $new || $new != .dist-* || $new == .dist-building-* ]]; then
  echo "swap-dist: $1 is not a finished build folder (.dist-*) in $PWD" >&2
  exit 1
fi
previous=
if [[ -L dist ]]; then
  previous=$(readlink dist)
elif [[ -e dist ]]; then
  # An older checkout's dist/ folder (the build used to write there): kept like a previous build.
  previous=.dist-before-symlink
  rm -rf "$previous"
  mv dist "$previous"
fi
link=.dist-link-$$
ln -sfn "$new" "$link"
mv -T "$link" dist
shopt -s nullglob
for d in .dist-*; do
  [[ $d == "$new" || $d == "$previous" || $d == .dist-link-* ]] && continue
  if [[ $d == .dist-building-* ]]; then
    [[ -n $(find "$d" -maxdepth 0 -mmin +60) ]] && rm -rf "$d"
    continue
  fi
  rm -rf "$d"
done
