#!/usr/bin/env bash
# Sets up .venv (see setup.sh) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the web app's browser tests use Debian's headless chromium; without apt-get (or root) they skip
if ! command -v chromedriver >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
        (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1)) ||
        echo "chromium could not be installed: the browser tests will skip"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
