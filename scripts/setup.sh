#!/usr/bin/env bash
# Install everything edgekit's tests need, from nothing but Python 3.11, Node 20 and git:
#   the locked Python environment (uv sync --locked: core, every extra and the dev tools), the
#   TF.js converter and the TF.js runner's npm packages (`edgekit setup all`, into edgekit's
#   tools folder) and, when running as root on Debian, Chromium for the browser runtime.
#   Safe to run again: each step is a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv
fi
# Bytecode at install time: where PYTHONDONTWRITEBYTECODE is set (CI images often set it), Python
# never caches what it compiles, and every process that imports TensorFlow would compile its
# thousands of modules again (about 14 s per process on a 2-core machine).
uv sync --locked --compile-bytecode

uv run --locked edgekit setup all

if ! command -v chromium >/dev/null 2>&1 || ! command -v docker-registry >/dev/null 2>&1 || ! command -v arm-none-eabi-g++ >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium (TF.js browser runtime), docker-registry (release tests) and gcc-arm-none-eabi (firmware C arrays)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-registry gcc-arm-none-eabi >/dev/null
  else
    echo "chromium not found and cannot install it (not root or no apt-get): browser runtime tests will be skipped"
  fi
fi

# The device tests (-m devices) start a real OpenSSH server on 127.0.0.1; adb is the ADB client.
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client adb >/dev/null
  else
    echo "sshd not found and cannot install it: the device tests (-m devices) will be skipped"
  fi
fi
