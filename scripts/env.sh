# Puts the Node.js and pnpm that bp's set-up installed first on PATH.
# Sourced by scripts/setup.sh, scripts/test.sh, ./bp and .ci/run.
BP_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BP_TOOLS="$BP_REPO_ROOT/.tools"
if [ -x "$BP_TOOLS/node/bin/node" ]; then
  export PATH="$BP_TOOLS/node/bin:$BP_TOOLS/pnpm/bin:$PATH"
  export npm_config_nodedir="$BP_TOOLS/node"
elif [ -d "$BP_TOOLS/pnpm/bin" ]; then
  export PATH="$BP_TOOLS/pnpm/bin:$PATH"
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
