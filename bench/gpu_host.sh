#!/bin/bash
# Everything measured on a lent GPU host, in one command (device tool). Writes to $OUT (or ./out).
#   bash bench/gpu_host.sh
# Needs: python3 with torch (the host's), wheels in .whl/ (textual, nvitop, gpustat, pyte...).
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
else
  export PYTHONPATH=$PWD
fi
APP="python3 -m ftmllm_tui.cli"
# what pip does on a real install: byte-compile, so start-up times are not compile times
python3 -m compileall -q -j 0 ${PYTHONPATH//:/ } >/dev/null 2>&1
echo "PYTHONDONTWRITEBYTECODE=${PYTHONDONTWRITEBYTECODE:-unset}"
log() { echo "== $*"; }
{
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
  python3 -c 'import sys, torch, pynvml; print(sys.version); print("torch", torch.__version__, "gpus", torch.cuda.device_count()); print("nvidia-ml-py", getattr(pynvml, "__version__", "?"))'
  nproc; uname -r
} > "$OUT/host.txt" 2>&1
cat "$OUT/host.txt"
NGPU=$(nvidia-smi -L | wc -l)

log "workload: alice on GPU 0 (3 GB, 30% duty), root torchrun ${NGPU}x (8 GB each) with FTMLLM_RUN_ID"
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$PWD" /tmp/site 2>/dev/null
runuser -u alice -- env PYTHONPATH="$PYTHONPATH" python3 bench/gpu_burn.py --gpu 0 --gb 3 --seconds 420 --duty 0.3 &
ALICE=$!
FTMLLM_RUN_ID=proof-$(date +%H%M%S) setsid torchrun --nproc_per_node="$NGPU" bench/gpu_burn.py --gb 8 --seconds 420 > "$OUT/torchrun.log" 2>&1 &
TR=$!
for i in $(seq 1 60); do
  n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l)
  [ "$n" -ge $((NGPU + 1)) ] && break; sleep 1
done
sleep 3
nvidia-smi >> "$OUT/host.txt"

log "snapshot"
$APP snapshot --json > "$OUT/snapshot.json" 2>> "$OUT/host.txt"; echo "rc=$?"
$APP snapshot 2>&1 | tee -a "$OUT/host.txt"

if [ "${RECORD:-0}" = 1 ]; then
  log "record 10 s"
  $APP record "$OUT/h200_record.jsonl" --seconds 10 --interval 0.5
fi

log "sampling cost: ours vs nvitop vs gpustat"
python3 bench/bench_sampling.py --n 300 --peer --breakdown | tee "$OUT/sampling.jsonl"
python3 - <<'PY' | tee -a "$OUT/sampling.jsonl"
import json, statistics, time
try:
    import gpustat
except Exception as e:
    print(json.dumps({"name": "gpustat", "skipped": repr(e)})); raise SystemExit
q = gpustat.new_query
for _ in range(3): q()
xs = []
for _ in range(50):
    t0 = time.perf_counter(); q(); xs.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"name": "gpustat --json (new_query)", "median_ms": round(statistics.median(xs), 3), "n": 50}))
PY

log "TUI captures"
python3 bench/capture.py --cols 120 --rows 40 --seconds 7 -- $APP > "$OUT/tui_home_120x40.txt"
python3 bench/capture.py --cols 80 --rows 24 --seconds 7 --keys t -- $APP > "$OUT/tui_tree_80x24.txt"
cat "$OUT/tui_home_120x40.txt"

log "idle cost under a pty, 1 s refresh: ours vs nvitop"
for size in "120 40" "80 24"; do
  set -- $size
  python3 bench/ptyrun.py --cols $1 --rows $2 --seconds 30 --marker Processes --ui-marker Filter -- $APP --interval 1 | tee -a "$OUT/idle.jsonl"
  python3 bench/ptyrun.py --cols $1 --rows $2 --seconds 30 --marker NVITOP -- python3 -m nvitop --interval 1 | tee -a "$OUT/idle.jsonl"
done

log "profile of the live app, 20 s at 120x40"
python3 bench/profile_app.py --seconds 20 --top 25 > "$OUT/profile.txt" 2>&1
head -c 3000 "$OUT/profile.txt"

log "stop workload"
kill -INT -- -$TR 2>/dev/null; kill $ALICE 2>/dev/null; sleep 3
pkill -f gpu_burn.py; sleep 1
nvidia-smi --query-compute-apps=pid,used_memory --format=csv | tee -a "$OUT/host.txt"
ls -la "$OUT"
