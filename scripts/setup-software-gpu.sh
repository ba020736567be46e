#!/usr/bin/env bash
# Installs a software WebGPU adapter on Debian bookworm (needs root):
# Mesa 25 lavapipe (Vulkan) from bookworm-backports, reusing the apt mirror already configured.
# Falls back to stock Mesa llvmpipe (GLES, compatibility mode) when backports cannot be reached.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "setup-software-gpu: run as root (apt-get)" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
if dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; then
  echo "setup-software-gpu: Mesa lavapipe from bookworm-backports already installed"
  exit 0
fi
base=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  base=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources | head -1)
fi
if [ -z "$base" ] && [ -f /etc/apt/sources.list ]; then
  base=$(awk '/^deb / && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
fi
if [ -n "$base" ]; then
  echo "deb $base bookworm-backports main" > /etc/apt/sources.list.d/cflens-backports.list
fi
apt-get update -qq
if [ -n "$base" ] && apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; then
  echo "setup-software-gpu: Mesa lavapipe (Vulkan) from bookworm-backports installed"
else
  echo "setup-software-gpu: backports unavailable; installing stock Mesa (use CFLENS_BACKEND=opengles)" >&2
  apt-get install -y -qq mesa-vulkan-drivers libvulkan1 libegl1 libgles2 libegl-mesa0 >/dev/null
fi
