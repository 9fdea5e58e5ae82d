#!/bin/bash
# Everything for the proof on a lent GPU host, in one call (device tool): a torchrun job launched
# through `ftmllm-tui launch` next to another user's process, attribution (snapshot --json), the
# TUI's home and run-detail views captured in tmux, stop with an NVML watch, orphans after a
# SIGKILLed launcher, and the side-by-side costs against nvitop (and gpustat).
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
python3 -m compileall -q -j 0 /tmp/site "$PWD/ftmllm_tui" >/dev/null 2>&1
if ! command -v tmux >/dev/null; then
  mkdir -p /tmp/tmuxroot; for f in .debs/*.deb; do dpkg -x "$f" /tmp/tmuxroot; done
  export PATH=/tmp/tmuxroot/usr/bin:$PATH LD_LIBRARY_PATH=/tmp/tmuxroot/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
fi
export XDG_STATE_HOME=/tmp/ftm-state XDG_CONFIG_HOME=/tmp/ftm-config FTMLLM_TMUX_SOCKET=ftm-proof
export FTMLLM_LLAMAFACTORY_CLI="$PWD/bench/lf_standin.sh" HOME=/root
APP="python3 -m ftmllm_tui.cli"
LOG="$OUT/proof_log.txt"; : > "$LOG"
say() { echo "== $*" | tee -a "$LOG"; }
{ nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv; nproc; python3 --version; tmux -V; } | tee -a "$LOG"
printf 'stage: sft\ndo_train: true\noutput_dir: /tmp/ftm-out\noverwrite_output_dir: true\n' > /tmp/standin.yaml

say "alice on GPU 0"
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$PWD" /tmp/site
runuser -u alice -- env PYTHONPATH="$PYTHONPATH" python3 bench/gpu_burn.py --gpu 0 --gb 3 --seconds 900 --duty 0.3 &
sleep 6
say "launch a 2-GPU torchrun job through ftmllm-tui"
$APP launch /tmp/standin.yaml --gpus 0,1 --name gpu-proof --allow-busy 2>&1 | tee -a "$LOG"
RUN1=$(tail -1 "$LOG")
for i in $(seq 1 90); do n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l); [ "$n" -ge 3 ] && break; sleep 1; done
sleep 12
$APP snapshot --json > "$OUT/snapshot.json"
$APP snapshot 2>&1 | tee -a "$LOG"
$APP runs 2>&1 | tee -a "$LOG"
$APP plot "$RUN1" --width 100 --height 12 2>&1 | tee -a "$LOG"

say "the TUI in tmux: home view, then the run's detail view"
tmux -L cap new-session -d -s cap -x 120 -y 40 "$APP"
sleep 6; tmux -L cap capture-pane -p -t cap > "$OUT/tui_home.txt"
tmux -L cap send-keys -t cap r; sleep 3
tmux -L cap send-keys -t cap l; sleep 5
tmux -L cap capture-pane -p -t cap > "$OUT/tui_detail.txt"
tmux -L cap send-keys -t cap Escape Escape q; sleep 1; tmux -L cap kill-server 2>/dev/null
cat "$OUT/tui_home.txt" "$OUT/tui_detail.txt" | head -90

say "side by side: sampling cost per refresh (ours, nvitop 1.7.2, gpustat)"
python3 bench/bench_sampling.py --n 300 --peer --breakdown | tee "$OUT/sampling.jsonl"
python3 - <<'PY' | tee -a "$OUT/sampling.jsonl"
import json, statistics, time
try:
    import gpustat
except Exception as e:
    print(json.dumps({"name": "gpustat", "skipped": repr(e)})); raise SystemExit
for _ in range(3): gpustat.new_query()
xs = []
for _ in range(30):
    t0 = time.perf_counter(); gpustat.new_query(); xs.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"name": "gpustat new_query", "median_ms": round(statistics.median(xs), 3), "n": 30}))
PY

say "side by side: idle cost under a pty, 1 s refresh (60 s at 120x40, 30 s at 80x24)"
for spec in "120 40 60" "80 24 30"; do
  set -- $spec
  python3 bench/ptyrun.py --cols $1 --rows $2 --seconds $3 --marker Processes --ui-marker Filter -- $APP --interval 1 | tee -a "$OUT/idle.jsonl"
  python3 bench/ptyrun.py --cols $1 --rows $2 --seconds $3 --marker NVITOP -- python3 -m nvitop --interval 1 | tee -a "$OUT/idle.jsonl"
done

say "stop run 1 while NVML is watched"
python3 bench/nvml_watch.py 20 > "$OUT/nvml_stop.jsonl" &
W=$!; sleep 1.5
echo "stop called at $(date +%s.%N)" | tee -a "$LOG"
$APP stop "$RUN1" --yes 2>&1 | tee -a "$LOG"
echo "stop returned at $(date +%s.%N)" | tee -a "$LOG"
wait $W
nvidia-smi --query-compute-apps=pid,used_memory --format=csv | tee -a "$LOG"

say "launch 2, SIGKILL its torchrun, stop the orphans"
$APP launch /tmp/standin.yaml --gpus 0,1 --name orphan-proof --allow-busy 2>&1 | tee -a "$LOG"
RUN2=$(tail -1 "$LOG")
for i in $(seq 1 90); do n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l); [ "$n" -ge 3 ] && break; sleep 1; done
sleep 5
TR=$(pgrep -f "bin/torchrun" | head -1); kill -9 "$TR"; sleep 2
ps -eo pid,ppid,pgid,sid,user,args | grep gpu_burn | grep -v grep | tee -a "$LOG"
$APP stop "$RUN2" --yes 2>&1 | tee -a "$LOG"
nvidia-smi --query-compute-apps=pid,used_memory --format=csv | tee -a "$LOG"
say "alice still there:"; pgrep -u alice -f gpu_burn | tee -a "$LOG"
echo "--- audit" >> "$LOG"; cat /tmp/ftm-state/ftmllm-tui/audit.jsonl >> "$LOG"
pkill -u alice -f gpu_burn
ls -la "$OUT"
