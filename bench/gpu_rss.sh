#!/bin/bash
# Idle cost of the home view on a lent GPU host, in ONE run on the same live workload (another user's
# process + a torchrun job): ours after and before a change, nvitop 1.7.2, and the floor (the smallest
# Textual app that reads NVML each second: bench/textual_floor.py), at 120x40 and 80x24 under
# bench/ptyrun.py (bytes/s, CPU %, peak RSS, first frame). Then where the memory goes (bench/rss_map.py:
# RSS by mapping) and what NVML itself costs a process. Writes $OUT/{host.txt,idle.jsonl,rss.jsonl,nvml.jsonl}.
#   WHL=tmp/idlewhl bash bench/gpu_rss.sh
# WHL holds the dependency wheels (*.whl, nvitop's included), ours-before/*.whl and ours-after/*.whl
# (pip wheel --no-deps of the two commits). Everything runs from /tmp so the checkout's ftmllm_tui/ is
# never the one imported.
set -u
ROOT=$PWD
OUT=${OUT:-out}; mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
WHL=${WHL:-tmp/idlewhl}
SECS=${SECS:-20}
export PYTHONUNBUFFERED=1
pipi() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$@"; }
pipi /tmp/site "$WHL"/*.whl || exit 1
pipi /tmp/ours-before "$WHL"/ours-before/*.whl || exit 1
pipi /tmp/ours-after "$WHL"/ours-after/*.whl || exit 1
python3 -m compileall -q -j 0 /tmp/site /tmp/ours-before /tmp/ours-after >/dev/null 2>&1
export XDG_STATE_HOME=/tmp/ftm-state XDG_CONFIG_HOME=/tmp/ftm-config HOME=/root
{ nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader; nproc; python3 --version; date -u; } \
  | tee "$OUT/host.txt"
NGPU=$(nvidia-smi -L | wc -l)
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$ROOT" /tmp/site
runuser -u alice -- env PYTHONPATH=/tmp/site python3 "$ROOT/bench/gpu_burn.py" --gpu 0 --gb 3 --seconds 600 --duty 0.3 &
ALICE=$!
FTMLLM_RUN_ID=idle-$(date +%H%M%S) setsid torchrun --nproc_per_node="$NGPU" "$ROOT/bench/gpu_burn.py" --gb 8 \
  --seconds 600 > "$OUT/torchrun.log" 2>&1 &
TR=$!
for i in $(seq 1 60); do
  n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l)
  [ "$n" -ge $((NGPU + 1)) ] && break; sleep 1
done
sleep 2
cd /tmp
pty() {  # label pythonpath cols rows marker -- cmd...
  local label=$1 pp=$2 c=$3 r=$4 m=$5; shift 6
  env -u COLORTERM TERM=xterm-256color PYTHONPATH="$pp" python3 "$ROOT/bench/ptyrun.py" --cols "$c" --rows "$r" \
    --seconds "$SECS" --marker "$m" --label "$label" -- "$@" | tee -a "$OUT/idle.jsonl"
}
OURS="python3 -m ftmllm_tui.cli --interval 1"
for size in "120 40" "80 24"; do
  set -- $size
  pty ours-after /tmp/ours-after:/tmp/site "$1" "$2" Processes -- $OURS
  pty nvitop /tmp/site "$1" "$2" NVITOP -- python3 -m nvitop --interval 1
  pty ours-before /tmp/ours-before:/tmp/site "$1" "$2" Processes -- $OURS
  [ "$1" = 120 ] && pty textual-floor /tmp/site "$1" "$2" FLOOR -- python3 "$ROOT/bench/textual_floor.py"
done
for who in ours-after nvitop textual-floor; do
  case $who in
    ours-after) pp=/tmp/ours-after:/tmp/site; cmd="$OURS" ;;
    nvitop) pp=/tmp/site; cmd="python3 -m nvitop --interval 1" ;;
    textual-floor) pp=/tmp/site; cmd="python3 $ROOT/bench/textual_floor.py" ;;
  esac
  env -u COLORTERM TERM=xterm-256color PYTHONPATH="$pp" python3 "$ROOT/bench/rss_map.py" --seconds 5 --label "$who" \
    -- $cmd | tee -a "$OUT/rss.jsonl"
done
for flags in 0 2; do  # what NVML costs a process: plain init, and NVML_INIT_FLAG_NO_ATTACH
  PYTHONPATH=/tmp/site python3 - "$flags" <<'EOF' | tee -a "$OUT/nvml.jsonl"
import json, sys
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
out = {"flags": int(sys.argv[1]), "start_mb": rss()}
import pynvml
out["import_mb"] = rss()
pynvml.nvmlInitWithFlags(int(sys.argv[1]))
out["init_mb"] = rss()
for i in range(pynvml.nvmlDeviceGetCount()):
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    pynvml.nvmlDeviceGetMemoryInfo(h); pynvml.nvmlDeviceGetUtilizationRates(h)
    pynvml.nvmlDeviceGetComputeRunningProcesses(h)
out["queried_mb"] = rss()
print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}))
EOF
done
GPU_PIDS=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader)  # the workload started above
kill -INT -- -$TR 2>/dev/null; kill $ALICE 2>/dev/null; sleep 2
for p in $GPU_PIDS; do kill -9 "$p" 2>/dev/null; done
echo done
