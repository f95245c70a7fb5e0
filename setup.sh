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
    echo "setup.sh: bubblewrap is missing and cannot be installed without root: ask for" >&2
    echo "          'apt-get install bubblewrap'. Until a sandbox works every rollout is refused" >&2
    echo "          (or use --rl-isolation docker --rl-image IMAGE)." >&2
  fi
fi

# The browser test of the HTML report and the docker backend's tests need Debian's chromium,
# chromium-driver and docker.io; they skip, saying why, where those are missing. CI asks for them
# with RLTASK_TEST_TOOLS=1 (root, or sudo); a user's set-up does not install them.
if [ "${RLTASK_TEST_TOOLS:-0}" = 1 ]; then
  missing=""
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
  command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing \
      || echo "setup.sh: could not install$missing: those tests will skip" >&2
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
# say which sandbox agent code will get here, or why none works (never silently none)
PYBIN=${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}
PYBIN=${PYBIN:-.venv/bin/python}
"$PYBIN" - <<'EOF' || true
import os
from pytest_rltask.sandbox import detect, refusal
iso = detect()
if iso == "none":
    print("setup.sh: WARNING:", refusal("auto"))
else:
    print(f"setup.sh: sandbox: {iso}" + (" (rootless)" if iso == "bubblewrap" and os.geteuid() else ""))
EOF
echo "set-up done: run the tests with  .venv/bin/python -m pytest -m offline -n 2"
