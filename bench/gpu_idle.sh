#!/bin/bash
# Idle cost of the TUI against nvitop on a lent GPU host (device tool), the same live workload for
# both: bytes written to the terminal per second at a 1 s refresh, CPU %, first frame, RSS.
# Ours twice: 256 colours (TERM=xterm-256color, no COLORTERM: what an SSH session usually gets) and
# truecolor (COLORTERM=truecolor). Writes $OUT/idle.jsonl.   bash bench/gpu_idle.sh
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD || exit 1
python3 -m compileall -q -j 0 /tmp/site "$PWD/ftmllm_tui" >/dev/null 2>&1
export XDG_STATE_HOME=/tmp/ftm-state XDG_CONFIG_HOME=/tmp/ftm-config HOME=/root
APP="python3 -m ftmllm_tui.cli"
{ nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader; nproc; python3 --version; } | tee "$OUT/host.txt"
NGPU=$(nvidia-smi -L | wc -l)
id alice >/dev/null 2>&1 || useradd -m alice
chmod -R a+rX "$PWD" /tmp/site
runuser -u alice -- env PYTHONPATH="$PYTHONPATH" python3 bench/gpu_burn.py --gpu 0 --gb 3 --seconds 600 --duty 0.3 &
ALICE=$!
FTMLLM_RUN_ID=idle-$(date +%H%M%S) setsid torchrun --nproc_per_node="$NGPU" bench/gpu_burn.py --gb 8 --seconds 600 \
  > "$OUT/torchrun.log" 2>&1 &
TR=$!
for i in $(seq 1 60); do
  n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l)
  [ "$n" -ge $((NGPU + 1)) ] && break; sleep 1
done
sleep 3
SECS=${SECS:-30}
for size in "120 40" "80 24"; do
  set -- $size
  env -u COLORTERM TERM=xterm-256color python3 bench/ptyrun.py --cols $1 --rows $2 --seconds $SECS --marker Processes \
    --ui-marker Filter --label ours-256 -- $APP --interval 1 | tee -a "$OUT/idle.jsonl"
  env COLORTERM=truecolor TERM=xterm-256color python3 bench/ptyrun.py --cols $1 --rows $2 --seconds $SECS \
    --marker Processes --ui-marker Filter --label ours-truecolor -- $APP --interval 1 | tee -a "$OUT/idle.jsonl"
  env -u COLORTERM TERM=xterm-256color python3 bench/ptyrun.py --cols $1 --rows $2 --seconds $SECS --marker NVITOP \
    --label nvitop -- python3 -m nvitop --interval 1 | tee -a "$OUT/idle.jsonl"
done
python3 bench/capture.py --cols 120 --rows 40 --seconds 6 -- $APP > "$OUT/tui_home_120x40.txt" 2>&1
kill -INT -- -$TR 2>/dev/null; kill $ALICE 2>/dev/null; sleep 2; pkill -f gpu_burn.py
echo done
