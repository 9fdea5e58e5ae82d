#!/bin/bash
# Stands in for `llamafactory-cli train CFG` on a GPU host without LLaMA-Factory: a torchrun job
# of one rank per visible GPU (bench/gpu_burn.py: holds memory, matmuls, NCCL all-reduce).
# Same process shape as LLaMA-Factory's: launcher -> torchrun -> workers in their own sessions.
here=$(cd "$(dirname "$0")" && pwd)
n=$(echo "${CUDA_VISIBLE_DEVICES:-0}" | tr ',' '\n' | grep -c .)
echo "lf_standin: $* on GPUs ${CUDA_VISIBLE_DEVICES} ($n ranks), run ${FTMLLM_RUN_ID}"
out=$(sed -n 's/^output_dir: *//p' "${2:-/dev/null}" 2>/dev/null | head -1)
exec torchrun --nproc_per_node="$n" "$here/gpu_burn.py" --gb 8 --seconds 900 ${out:+--output-dir "$out"}
