#!/usr/bin/env bash
# npm run build. The compiled code goes to a new folder beside the old one and `dist` is a symbolic
# link to it, swapped by one rename(2) once the build is whole (scripts/swap-dist.sh): a `cunik`
# or `cunikd` installed from this checkout (setup.sh links /usr/local/bin/cunik here) keeps working
# while a build, test or bench run rebuilds it, instead of finding dist/ half-deleted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=$(date +%Y%m%d-%H%M%S)
# Unfinished builds are .dist-building-*: swap-dist.sh never takes one for a finished build.
work=$(mktemp -d "$PWD/.dist-building-$stamp-XXXX")
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
npx --no-install tsc -p tsconfig.json --outDir "$work"
bash scripts/bundle-cli.sh "$work"
bash scripts/build-kernels.sh
bash scripts/build-native.sh
bash scripts/build-init.sh
done=${work/.dist-building-/.dist-}
mv "$work" "$done"
bash scripts/swap-dist.sh "$done"
