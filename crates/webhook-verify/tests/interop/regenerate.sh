#!/usr/bin/env bash
# Regenerates fixtures.json: signatures made by the providers' own libraries, and those
# libraries' verdicts on signatures made by `palisade webhook sign`.
#
#   crates/webhook-verify/tests/interop/regenerate.sh
#
# Installs the pinned libraries into a virtualenv and a node_modules under
# $INTEROP_WORK (default /tmp/palisade-webhook-interop), never into the repository.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
work=${INTEROP_WORK:-/tmp/palisade-webhook-interop}

PYPI_PINS=(standardwebhooks==1.1.0 svix==2.9.1 stripe==16.1.0 slack_sdk==3.47.0 twilio==9.13.0)
NPM_PINS=(@octokit/webhooks-methods@6.0.0)

mkdir -p "$work"
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "${PYPI_PINS[@]}"
[ -f "$work/package.json" ] || (cd "$work" && npm init -y >/dev/null)
(cd "$work" && npm install --silent --no-audit --no-fund "${NPM_PINS[@]}")

cargo build --quiet -p palisade-cli --manifest-path "$root/Cargo.toml"
target=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    "$work/venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

"$work/venv/bin/python" "$here/providers.py" \
    --palisade "$target/debug/palisade" \
    --octokit "$work/node_modules/@octokit/webhooks-methods" \
    --node-script "$here/octokit.mjs" \
    >"$here/fixtures.json.new"
mv "$here/fixtures.json.new" "$here/fixtures.json"
echo "wrote $here/fixtures.json"
