#!/usr/bin/env bash
# Wheels that benchmarks/bench_gpu.py needs on a bare GPU machine (its image has torch, numba,
# opencv, tqdm, safetensors and huggingface-hub, but not PyAV or PyMatting, and maybe another
# transformers). Run here, in the repository root; then carry `.whl` (device README):
#
#   bash benchmarks/gpu_wheels.sh
#   # device run, carry [".whl"]:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:src || exit; \
#   PYTHONUNBUFFERED=1 python3 benchmarks/bench_gpu.py --out $OUT/bench_gpu
set -euo pipefail
cd "$(dirname "$0")/.."
EXCLUDE="$(git rev-parse --git-common-dir)/info/exclude"
grep -qx "/.whl/" "$EXCLUDE" 2>/dev/null || echo "/.whl/" >> "$EXCLUDE"
pin() { grep -i "^$1==" constraints.txt | head -1; }
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d .whl \
    "$(pin av)" "$(pin pymatting)" "$(pin transformers)"
ls -la .whl
