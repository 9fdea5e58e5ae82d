#!/bin/sh
# Create (once) .venv-lf/: a separate virtualenv with a CPU build of torch and
# LLaMA-Factory, for the tests that run a real `llamafactory-cli train` of a
# tiny, locally built model (see tests/lf/README.md).
#
#   sh scripts/lf_env.sh                # from any directory; last line = path of llamafactory-cli
#   LF_SWANLAB=1 sh scripts/lf_env.sh   # also install swanlab[dashboard] (for --swanlab-local)
#
# Idempotent: stamp files record what was installed; a second run returns at once
# (a few ms). Fresh install: about 2 minutes, 2.1 GB. Only pip's own cache is
# written outside the repository; no model is downloaded.
#
# Why it does not simply `pip install llamafactory`: llamafactory requires
# torchvision and torchaudio, and the only Linux wheels of those that pip can reach
# are CUDA builds. Next to the CPU torch their native libraries fail to load
# (libc10_cuda.so: not found), and `import transformers.PreTrainedModel` (hence
# every llamafactory-cli command) then dies with "operator torchvision::nms does
# not exist". So:
#   - torchvision is NOT installed (transformers and LLaMA-Factory's text path
#     work without it; only image/video data would need it);
#   - torchaudio (imported unconditionally by llamafactory/data/mm_plugin.py) is
#     installed without deps and its native .so files are removed, which makes it
#     a pure-Python package (it then reports its extension as not available).
# Everything else llamafactory requires is installed from its own metadata.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv-lf"
PY="$VENV/bin/python"
CLI="$VENV/bin/llamafactory-cli"
STAMP="$VENV/.lf-installed"
SWANSTAMP="$VENV/.lf-swanlab-installed"

LF_PYTHON=${LF_PYTHON:-python3}
LF_TORCH=${LF_TORCH:-2.13.0}          # 2.13.0+cpu lies in /opt/wheels on this machine
LF_VERSION=${LF_VERSION:-0.9.5}
LF_TORCHAUDIO=${LF_TORCHAUDIO:-2.11.1}
LF_SWANLAB=${LF_SWANLAB:-0}
# The versions this was verified with: llamafactory 0.9.5's upper bounds. Pinning
# gradio keeps pip from backtracking to gradio 5.1.0, which a plain
# `pip install llamafactory==0.9.5` would not pick.
PINS="transformers==5.6.0 tokenizers==0.22.2 accelerate==1.11.0 datasets==4.0.0 peft==0.18.1 trl==0.24.0 gradio==5.50.0"
SPEC="v3 torch==$LF_TORCH llamafactory==$LF_VERSION torchaudio==$LF_TORCHAUDIO(no .so) $PINS"

log() { echo "lf_env: $*" >&2; }

BASE_OK=0
if [ -x "$CLI" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SPEC" ]; then
    BASE_OK=1
    if [ "$LF_SWANLAB" != 1 ] || [ -f "$SWANSTAMP" ]; then
        echo "$CLI"
        exit 0
    fi
fi

if [ ! -x "$PY" ]; then
    log "creating $VENV"
    "$LF_PYTHON" -m venv "$VENV"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip install, quiet; its stderr is shown minus two known harmless messages: local
# find-links/index folders that lack a package, and the resolver's note that
# llamafactory's torchvision requirement is unmet (on purpose, see above).
PIPERR="$VENV/.lf-pip.err"
pipi() {
    rc=0
    "$PY" -m pip install -q --no-input "$@" 2>"$PIPERR" || rc=$?
    grep -v -e "^WARNING: Location 'file:.* is ignored" \
        -e "^ERROR: pip's dependency resolver does not currently take into account" \
        -e "^llamafactory .* requires torchvision" "$PIPERR" >&2 || true
    return $rc
}

# Constraints for every step after torch. A -c on the command line replaces the
# one in pip's config, so that one (if any) is copied in too.
CONS="$VENV/.lf-constraints.txt"
write_constraints() {
    {
        echo "torch==$1"
        for p in $PINS; do echo "$p"; done
        if [ -f /etc/xdg/pip/constraints.txt ]; then
            grep -v '^torch[=<>]' /etc/xdg/pip/constraints.txt || true
        fi
    } > "$CONS"
}

if [ "$BASE_OK" != 1 ]; then
    rm -f "$STAMP" "$SWANSTAMP"

    # 1. torch on its own, so that the CPU build is the one chosen: "2.13.0+cpu"
    #    sorts above "2.13.0" (the multi-GB CUDA wheel on PyPI); later steps keep it.
    log "installing torch==$LF_TORCH"
    pipi "torch==$LF_TORCH"
    TORCH_VER=$("$PY" -W ignore -c 'import torch; print(torch.__version__)')
    if [ -n "$("$PY" -W ignore -c 'import torch; print(torch.version.cuda or "")')" ]; then
        log "warning: torch $TORCH_VER is a CUDA build (large); torchaudio is made CPU-only anyway"
    fi
    write_constraints "$TORCH_VER"

    # 2. torchaudio, CPU-only by removing its (CUDA-linked) native libraries.
    pipi --no-deps "torchaudio==$LF_TORCHAUDIO"
    "$PY" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("torchaudio")
for so in (pathlib.Path(spec.submodule_search_locations[0]) / "lib").glob("*.so"):
    so.unlink()
EOF

    # 3. llamafactory itself, then its requirements minus torch/torchvision/torchaudio
    #    (no extras: no deepspeed, vllm, bitsandbytes, ...).
    log "installing llamafactory==$LF_VERSION and its requirements (torch $TORCH_VER)"
    pipi --no-deps "llamafactory==$LF_VERSION"
    REQS=$("$PY" - <<'EOF'
import re
from importlib.metadata import requires
skip = {"torch", "torchvision", "torchaudio"}
for r in requires("llamafactory") or []:
    if "extra ==" in r:
        continue
    name = re.match(r"[A-Za-z0-9._-]+", r).group(0).lower().replace("_", "-")
    if name not in skip:
        print(r.split(";")[0].strip())
EOF
)
    # one requirement per line: split on newlines only, no globbing
    set -f
    OLDIFS=$IFS
    IFS='
'
    # shellcheck disable=SC2086
    pipi -c "$CONS" $REQS
    IFS=$OLDIFS
    set +f

    # 4. smoke check: the data path (imports torchaudio, transformers' model
    #    classes) and the CLI itself.
    HF_HUB_OFFLINE=1 "$PY" -c \
        'import llamafactory.data.mm_plugin, transformers; transformers.PreTrainedModel'
    HF_HUB_OFFLINE=1 "$CLI" version >/dev/null
    echo "$SPEC" > "$STAMP"
fi

if [ "$LF_SWANLAB" = 1 ] && [ ! -f "$SWANSTAMP" ]; then
    # swanlab_mode: local needs the [dashboard] extra
    log "installing swanlab[dashboard]"
    [ -f "$CONS" ] || write_constraints "$("$PY" -W ignore -c 'import torch; print(torch.__version__)')"
    pipi -c "$CONS" "swanlab[dashboard]"
    "$PY" -c 'import swanlab'
    touch "$SWANSTAMP"
fi

echo "$CLI"
