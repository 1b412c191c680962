#!/usr/bin/env bash
# Installs the Debian packages the demo and the browser tests need, if they are missing:
# ffmpeg (Gradio runs ffprobe on streamed video segments) and chromium (Playwright drives it headless).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" > /tmp/apt-install.log 2>&1 \
  || { tail -n 30 /tmp/apt-install.log; exit 1; }
