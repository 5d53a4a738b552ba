#!/usr/bin/env bash
# GPU check, run on a CUDA machine from the repo root (no network: wheels for what the machine lacks
# are expected under .whl/). Runs the CUDA tests and the fusion benchmark with xformers and sdpa.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lanistr_device_out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl 2>&1 | tail -2
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . -e plugins/text -e plugins/image \
  -e plugins/tabular -e plugins/timeseries 2>&1 | tail -2
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, xformers; print('torch', torch.__version__, 'xformers', xformers.__version__)" | tee -a "$OUT/gpu.txt"
python3 -m pytest -p no:cacheprovider tests/test_cuda.py tests/test_attention.py tests/test_fusion.py -q -rs 2>&1 | tee "$OUT/pytest.txt" | tail -15
for att in xformers sdpa; do
  python3 benchmarks/fusion_cost.py --device cuda --attention "$att" --repeats 10 --warmup 3 \
    --json "$OUT/bench_cuda_$att.json" 2>/dev/null | tee "$OUT/bench_cuda_$att.md"
done
# the cost benchmark on the GPU: float32 and bfloat16 autocast, xformers and sdpa among the backends,
# and the HF Perceiver reference (transformers comes with the text plugin)
for dtype in float32 bfloat16; do
  timeout 900 python3 -m benchmarks cost --device cuda --dtype "$dtype" --reference --repeats 10 --warmup 3 \
    --max-quadratic-tokens 16384 --out "$OUT/cost_cuda_$dtype" 2>&1 | tail -60 | tee "$OUT/cost_cuda_$dtype.log"
done
