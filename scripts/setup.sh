#!/usr/bin/env bash
# Creates .venv and installs talkinghead with everything it needs, offline-capable CPU stack.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip
# mediapipe's wheel declares jax/jaxlib/sentencepiece, which FaceMesh does not use: it is installed alone, and pip is
# told not to report those three as missing (everything mediapipe does use is in pyproject.toml's dependencies).
.venv/bin/pip install -q --no-deps --no-warn-conflicts "mediapipe==0.10.21"
# the editable build's advice banners (setuptools warnings) are not problems: silenced for this step only
PYTHONWARNINGS=ignore .venv/bin/pip install -q --no-warn-conflicts -e ".[test,serve]"
echo "talkinghead is installed in .venv ($(.venv/bin/talkinghead --version))"
