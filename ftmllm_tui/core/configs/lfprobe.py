"""Run LLaMA-Factory's own argument parser on a config: executed by the TRAINING environment's Python.

    python lfprobe.py version
    python lfprobe.py check COMMAND CONFIG.yaml

Standalone on purpose (it runs where ftmllm_tui is not installed). Prints one JSON line as the last line:
{"ok": bool, "version": str, "error_type": str, "message": str, "seconds": float}.
"""

import json
import os
import sys
import time


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llamafactory")
    except Exception:  # noqa: BLE001
        return ""


def main() -> int:
    if sys.argv[1:2] == ["version"]:
        print(json.dumps({"ok": True, "version": _version()}))
        return 0
    command, config = sys.argv[2], sys.argv[3]
    # One process sees one GPU, as each torchrun worker of a real run does: with several visible, transformers
    # would count them all (n_gpu > 1, DataParallel) and LLaMA-Factory stop with "Please launch distributed
    # training with `llamafactory-cli` or `torchrun`", on every multi-GPU server.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or "," in visible:
        os.environ["CUDA_VISIBLE_DEVICES"] = (visible or "0").split(",")[0].strip()
    t0 = time.monotonic()
    out = {"ok": False, "version": _version(), "error_type": "", "message": ""}
    try:
        from llamafactory.hparams import get_eval_args, get_infer_args, get_train_args

        sys.argv = ["llamafactory-cli", config]  # read the file exactly as `llamafactory-cli COMMAND FILE` does
        fn = {"train": get_train_args, "eval": get_eval_args}.get(command, get_infer_args)
        fn()
        out["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - SystemExit from argparse included
        out["error_type"] = type(exc).__name__
        out["message"] = str(exc) or repr(exc)
    out["seconds"] = round(time.monotonic() - t0, 2)
    sys.stdout.flush()
    print("\n" + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
