#!/usr/bin/env bash
# Builds every package and runs every test; the last line is the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
pnpm exec turbo run build --output-logs=errors-only >&2
exec node scripts/run-tests.mjs "$@"
