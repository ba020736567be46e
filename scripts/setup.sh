#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine (idempotent): the software GPU when no Vulkan driver is
# present, Chromium for the browser test, and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
if [ "$(id -u)" = 0 ]; then
  if [ "${CFLENS_SKIP_GPU_SETUP:-}" != 1 ]; then bash scripts/setup-software-gpu.sh; fi
  command -v chromium >/dev/null || need_apt+=(chromium)
  if [ ${#need_apt[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
else
  echo "setup: not root; skipping system packages (software GPU, chromium). See README." >&2
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent shaders
