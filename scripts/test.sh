#!/usr/bin/env bash
# Builds every package and runs every test; the last line is the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The real servers the provider tests run against (dockerd, registry, sshd, ...).
bash scripts/test-infra/install.sh
pnpm exec turbo run build --output-logs=errors-only >&2
exec node scripts/run-tests.mjs "$@"
