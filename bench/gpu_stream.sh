#!/bin/bash
# The remote streamer on a lent GPU host (device tool): `ftmllm-tui stream` under a live workload
# (alice on GPU 0, a torchrun on every GPU), its CPU % and RSS at 1 s and 2 s, its output kept for the
# wire figures (bench/bench_hosts.py --wire-from FILE compresses it as SSH does), and the real
# nvidia-smi CSV that the fallback parses.   bash bench/gpu_stream.sh   (writes $OUT; wheels of platformdirs, psutil, nvidia-ml-py in .whl-stream/ where the host lacks them)
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl-stream ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl-stream/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
else
  export PYTHONPATH=$PWD
fi
python3 -m compileall -q -j 0 "$PWD/ftmllm_tui" >/dev/null 2>&1
export XDG_STATE_HOME=/tmp/ftm-state XDG_CONFIG_HOME=/tmp/ftm-config
{ nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader; nproc; python3 --version; } | tee "$OUT/host.txt"
NGPU=$(nvidia-smi -L | wc -l)
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$PWD" /tmp/site 2>/dev/null
runuser -u alice -- env PYTHONPATH="$PYTHONPATH" python3 bench/gpu_burn.py --gpu 0 --gb 3 --seconds 300 --duty 0.3 &
ALICE=$!
FTMLLM_RUN_ID=stream-$(date +%H%M%S) setsid torchrun --nproc_per_node="$NGPU" bench/gpu_burn.py --gb 8 --seconds 300 \
  > "$OUT/torchrun.log" 2>&1 &
TR=$!
for i in $(seq 1 60); do
  n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l)
  [ "$n" -ge $((NGPU + 1)) ] && break; sleep 1
done
sleep 3
Q="--format=csv,noheader,nounits"
nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit $Q > "$OUT/smi_gpu.csv"
nvidia-smi --query-compute-apps=gpu_uuid,pid,process_name,used_memory $Q > "$OUT/smi_apps.csv"
SECS=${SECS:-40}
TCK=$(getconf CLK_TCK)
for iv in 1 2; do
  # stdin a pipe that stays open (as over SSH): the streamer watches it for EOF
  sleep 100000 | python3 -m ftmllm_tui.cli stream --interval $iv > "$OUT/stream$iv.jsonl" 2> "$OUT/stream$iv.err" &
  sleep 4
  P=$(pgrep -f "ftmllm_tui.cli stream --interval $iv" | head -1)
  read -r u0 s0 <<<"$(awk '{print $14, $15}' /proc/$P/stat)"; t0=$(date +%s.%N)
  sleep "$SECS"
  read -r u1 s1 <<<"$(awk '{print $14, $15}' /proc/$P/stat)"; t1=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$P/status); hwm=$(awk '/VmHWM/ {print $2}' /proc/$P/status)
  python3 -c "import json; print(json.dumps({'interval_s': $iv, 'seconds': round($t1-$t0,1), 'cpu_pct': round(100*(($u1+$s1)-($u0+$s0))/$TCK/($t1-$t0),3), 'rss_mb': round($rss/1024,1), 'rss_peak_mb': round($hwm/1024,1)}))" | tee -a "$OUT/stream_cost.jsonl"
  pkill -f "sleep 100000"; sleep 1; kill $P 2>/dev/null
done
wc -c "$OUT"/stream*.jsonl
kill $ALICE $TR 2>/dev/null; pkill -f gpu_burn.py; wait 2>/dev/null
