#!/usr/bin/env bash
# The GPU path in one run, bounded to 5 minutes: see bench/gpu_check.py for the steps.
#   bench/gpu_check.sh            # on a machine with one NVIDIA GPU
#   bench/gpu_check.sh --dry-run  # every step tiny, on CPU (CI runs this)
# PYTHON picks the interpreter (default: python3 on PATH).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 300 "${PYTHON:-python3}" "$here/gpu_check.py" "$@"
