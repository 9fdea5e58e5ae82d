#!/bin/bash
# On a lent GPU host: launch a torchrun job through `ftmllm-tui launch` next to another user's
# process, show the attribution, stop it with `ftmllm-tui stop` while NVML is watched, then
# SIGKILL the launcher of a second job and stop its orphans. Writes to $OUT.
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
if ! command -v tmux >/dev/null; then   # carried from Debian: tmux + libevent
  mkdir -p /tmp/tmuxroot; for f in .debs/*.deb; do dpkg -x "$f" /tmp/tmuxroot; done
  export PATH=/tmp/tmuxroot/usr/bin:$PATH
  export LD_LIBRARY_PATH=/tmp/tmuxroot/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
fi
tmux -V || exit 1
export XDG_STATE_HOME=/tmp/ftm-state XDG_CONFIG_HOME=/tmp/ftm-config FTMLLM_TMUX_SOCKET=ftm-proof
export FTMLLM_LLAMAFACTORY_CLI="$PWD/bench/lf_standin.sh"
APP="python3 -m ftmllm_tui.cli"
LOG="$OUT/stop_log.txt"; : > "$LOG"
say() { echo "== $*" | tee -a "$LOG"; }
printf 'stage: sft\ndo_train: true\noutput_dir: /tmp/ftm-out\noverwrite_output_dir: true\n' > /tmp/standin.yaml

say "another user's process on GPU 0"
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$PWD" /tmp/site
runuser -u alice -- env PYTHONPATH="$PYTHONPATH" python3 bench/gpu_burn.py --gpu 0 --gb 3 --seconds 900 --duty 0.3 &
sleep 8

say "launch 1 (GPUs 0,1; GPU 0 is alice's too)"
$APP launch /tmp/standin.yaml --gpus 0,1 --name gpu-proof 2>&1 | tee -a "$LOG"
$APP launch /tmp/standin.yaml --gpus 0,1 --name gpu-proof --allow-busy 2>&1 | tee -a "$LOG"
RUN1=$(tail -1 "$LOG")
for i in $(seq 1 90); do n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l); [ "$n" -ge 3 ] && break; sleep 1; done
sleep 5
$APP snapshot --json > "$OUT/snapshot_run.json"
$APP snapshot 2>&1 | tee -a "$LOG"
$APP runs 2>&1 | tee -a "$LOG"

say "stop run 1 while NVML is watched"
python3 bench/nvml_watch.py 25 > "$OUT/nvml_stop1.jsonl" &
WATCH=$!
sleep 1.5
date +%s.%N > /tmp/t_stop
$APP stop "$RUN1" --yes 2>&1 | tee -a "$LOG"
echo "stop returned at $(date +%s.%N), asked at $(cat /tmp/t_stop)" | tee -a "$LOG"
wait $WATCH
nvidia-smi --query-compute-apps=pid,used_memory --format=csv | tee -a "$LOG"
$APP runs 2>&1 | tee -a "$LOG"

say "launch 2, then SIGKILL its launcher (torchrun): the workers are orphaned"
$APP launch /tmp/standin.yaml --gpus 0,1 --name orphan-proof --allow-busy 2>&1 | tee -a "$LOG"
RUN2=$(tail -1 "$LOG")
for i in $(seq 1 90); do n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l); [ "$n" -ge 3 ] && break; sleep 1; done
sleep 5
TR=$(pgrep -f "bin/torchrun" | head -1)
ps -eo pid,ppid,pgid,sid,user,args --forest | grep -E "gpu_burn|torchrun|runner" | grep -v grep | tee -a "$LOG"
say "kill -9 $TR (torchrun)"
kill -9 "$TR"; sleep 2
ps -eo pid,ppid,pgid,sid,user,args | grep gpu_burn | grep -v grep | tee -a "$LOG"
$APP runs 2>&1 | tee -a "$LOG"
python3 bench/nvml_watch.py 20 > "$OUT/nvml_stop2.jsonl" &
WATCH=$!
sleep 1.5
$APP stop "$RUN2" --yes 2>&1 | tee -a "$LOG"
wait $WATCH
nvidia-smi --query-compute-apps=pid,used_memory --format=csv | tee -a "$LOG"
say "alice's process still there?"
pgrep -u alice -f gpu_burn | tee -a "$LOG"
cp /tmp/ftm-state/ftmllm-tui/audit.jsonl "$OUT/audit.jsonl"
pkill -u alice -f gpu_burn
