#!/usr/bin/env bash
# The README's first command (`npm run demo`): installs what is missing, then runs `tributary demo`
# from the TypeScript sources (no build needed). Extra arguments go to the demo, e.g.
# `npm run demo -- --duration 60 --rate 500`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# exec: the demo receives Ctrl-C itself and its exit code is this script's.
TRIBUTARY_FROM_SOURCE=1 exec node bin/tributary.js demo "$@"
