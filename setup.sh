#!/usr/bin/env bash
# One-command set-up: bubblewrap (the sandbox) from Debian, then a virtual environment with the
# plugin, the tasks' packages and the test tools. Re-running it is harmless.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq bubblewrap
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq bubblewrap
  else
    echo "setup.sh: bubblewrap is missing and cannot be installed without root; the sandbox will" >&2
    echo "          fall back to unshare (root only) or refuse live rollouts." >&2
  fi
fi

PY=${PYTHON:-python3}
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  PIP=.venv/bin/pip
else
  PIP="$VIRTUAL_ENV/bin/pip"
fi
"$PIP" install -q -r requirements.txt
echo "set-up done: run the tests with  .venv/bin/python -m pytest -m offline -n 2"
