#!/usr/bin/env bash
# Keeps the Apptainer definition files honest where no Apptainer runs: executes each file's
# %post install steps (between the POST-INSTALL markers) in a fresh virtual environment,
# with /opt/hrtemlake replaced by this checkout, then runs the installed `hrtemlake`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for def in "$root"/containers/*.def; do
    work=$(mktemp -d)
    sed -n '/POST-INSTALL BEGIN/,/POST-INSTALL END/p' "$def" \
        | sed "s#/opt/venv#$work/venv#g; s#/opt/hrtemlake#$root#g; s#--no-cache-dir ##g" \
        > "$work/post.sh"
    echo "== %post of $(basename "$def")"
    (cd "$root" && bash -eu "$work/post.sh")
    # outside the checkout, so the installed package is imported, not the source tree
    (cd "$work" && "$work/venv/bin/hrtemlake" --version \
        && "$work/venv/bin/python" -c "import hrtemlake.lake, hrtemlake.models, abtem, gpaw; print('imports ok')")
    rm -rf "$work"
done
