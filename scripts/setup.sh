#!/usr/bin/env bash
# Creates .venv and installs talkinghead with everything it needs, offline-capable CPU stack.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
# mediapipe's wheel declares jax/jaxlib/sentencepiece, which FaceMesh does not use: install it alone.
.venv/bin/pip install -q --no-deps "mediapipe==0.10.21"
.venv/bin/pip install -q -e ".[test]"
