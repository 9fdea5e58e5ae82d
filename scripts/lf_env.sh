#!/bin/sh
# Create (once) .venv-lf/: a separate virtualenv with a CPU build of torch and
# LLaMA-Factory, used by the tests that run a real `llamafactory-cli train` of a
# tiny, locally-built model (tests/lf/README.md).
#
#   sh scripts/lf_env.sh        # from any directory; prints the llamafactory-cli path last
#
# Idempotent: a stamp file records what was installed; a second run returns at once.
# Overridable: LF_PYTHON (default python3), LF_TORCH (default 2.13.0; the CPU
# wheel of that version is what pip picks on this machine), LF_VERSION (0.9.5).
# Nothing here downloads a model; pip's own cache is the only thing written
# outside the repository.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv-lf"
PY="$VENV/bin/python"
CLI="$VENV/bin/llamafactory-cli"
STAMP="$VENV/.lf-installed"

LF_PYTHON=${LF_PYTHON:-python3}
LF_TORCH=${LF_TORCH:-2.13.0}
LF_VERSION=${LF_VERSION:-0.9.5}
# torchvision must match torch exactly (0.28.x <-> 2.13.x); torchaudio>=2.11 only
# asks for torch>=2.11. Both are hard requirements of llamafactory.
LF_TORCHVISION=${LF_TORCHVISION:-0.28.0}
SPEC="torch==$LF_TORCH torchvision==$LF_TORCHVISION llamafactory==$LF_VERSION"

if [ -x "$CLI" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SPEC" ]; then
    echo "$CLI"
    exit 0
fi

log() { echo "lf_env: $*" >&2; }

if [ ! -x "$PY" ]; then
    log "creating $VENV"
    "$LF_PYTHON" -m venv "$VENV"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
PIP="$PY -m pip install -q --no-input"

# 1. torch first, on its own, so the CPU build is chosen (it is the highest
#    "2.13.0" candidate: 2.13.0+cpu > 2.13.0) and later steps never replace it.
log "installing torch==$LF_TORCH"
$PIP "torch==$LF_TORCH"
TORCH_VER=$("$PY" -c 'import torch; print(torch.__version__)')
TORCH_CUDA=$("$PY" -c 'import torch; print(torch.version.cuda or "")')
if [ -n "$TORCH_CUDA" ]; then
    log "warning: torch $TORCH_VER is a CUDA build (cuda $TORCH_CUDA); a CPU build is much smaller"
fi

# 2. LLaMA-Factory and the rest, with torch pinned to what step 1 installed.
#    deepspeed, vllm, bitsandbytes are extras and are not installed.
CONS="$VENV/.lf-constraints.txt"
echo "torch==$TORCH_VER" > "$CONS"
if [ -f /etc/xdg/pip/constraints.txt ]; then
    # a -c on the command line replaces the configured one: keep both
    cat /etc/xdg/pip/constraints.txt >> "$CONS"
fi
log "installing llamafactory==$LF_VERSION (torch $TORCH_VER)"
$PIP -c "$CONS" "llamafactory==$LF_VERSION" "torchvision==$LF_TORCHVISION" torchaudio

# 3. smoke check: the CLI imports and reports its version.
DISABLE_VERSION_CHECK=1 HF_HUB_OFFLINE=1 "$CLI" version >/dev/null

echo "$SPEC" > "$STAMP"
echo "$CLI"
