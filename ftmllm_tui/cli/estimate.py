"""`ftmllm-tui estimate CONFIG`: will it fit? GPU memory per GPU, part by part, with its inputs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2
KINDS = ("train", "chat", "eval", "export")


def add_parsers(sub) -> None:
    e = sub.add_parser(
        "estimate", help="GPU memory a config needs per GPU (exit 0 fits/ok, 1 cannot estimate or will not fit, "
                         "2 usage)",
        epilog="Reads the config, the model's config.json (a local folder or a hub id already in the Hugging Face\n"
               "cache; nothing is downloaded) and the DeepSpeed JSON. Calibrated on real LLaMA-Factory runs on an\n"
               "H200 (README, Memory estimate). With GPU indices and a readable NVML (or --replay), also says\n"
               "whether it fits in each GPU's free memory.\n\n"
               "examples:\n"
               "  ftmllm-tui estimate configs/qwen2.5vl_lora_sft.yaml --gpus 4\n"
               "  ftmllm-tui estimate sft_ds3.yaml --gpus 0,1,2,3 --json | jq .per_gpu_bytes\n"
               "  ftmllm-tui estimate eval_4bit.yaml --kind train   (do_predict + predict_with_generate: a "
               "prediction)")
    e.add_argument("config", help="the YAML file")
    e.add_argument("--gpus", default="1", metavar="N|0,1,…",
                   help="how many GPUs (N) or which ones (indices: also checks their free memory); default 1")
    e.add_argument("--kind", choices=KINDS, default=None,
                   help="llamafactory-cli command (default: from the config's keys)")
    e.add_argument("--json", action="store_true", help="the estimate as JSON (an {\"error\": …} object on failure)")
    e.add_argument("--replay", dest="sub_replay", metavar="FILE", help="free memory from a recording")
    e.add_argument("--workdir", default=None, help="where relative paths are resolved (default: current dir)")


def _gpus(spec: str) -> tuple[int, list[int] | None]:
    spec = spec.strip()
    if spec.isdigit() and "," not in spec and int(spec) > 0 and len(spec) < 4 and not spec.startswith("0"):
        return int(spec), None
    try:
        idx = [int(x) for x in spec.split(",") if x.strip() != ""]
    except ValueError:
        raise ValueError(f"--gpus {spec!r}: give a count (4) or indices (0,1,2,3)") from None
    if not idx or any(i < 0 for i in idx):
        raise ValueError(f"--gpus {spec!r}: give a count (4) or indices (0,1,2,3)")
    return len(idx), idx


def _free(indices: list[int], replay: str | None) -> tuple[dict[int, tuple[int, int]], str | None]:
    """{index: (free, total)} from NVML or a recording; (empty, why) when neither can be read."""
    try:
        from ..core.gpus.samplers import open_sampler

        opened = open_sampler(replay, fallback=False)
    except Exception as exc:  # noqa: BLE001  (no driver, bad file: the estimate still stands)
        return {}, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    try:
        snap = opened.sampler.sample()
    finally:
        opened.sampler.close()
    out = {}
    for g in snap.gpus:
        if g.index in indices and g.memory_total_bytes and g.memory_used_bytes is not None:
            out[g.index] = (g.memory_total_bytes - g.memory_used_bytes, g.memory_total_bytes)
    return out, None


def _error(args, msg: str, code: int) -> int:
    if args.json:
        json.dump({"ok": False, "error": msg, "exit_code": code, "config": args.config}, sys.stdout)
        sys.stdout.write("\n")
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return code


def cmd_estimate(args: argparse.Namespace) -> int:
    from ..core.estimate import GiB, EstimateError, estimate_file, fit_line

    try:
        count, indices = _gpus(args.gpus)
    except ValueError as exc:
        return _error(args, str(exc), EXIT_USAGE)
    if not Path(args.config).is_file():
        return _error(args, f"{args.config}: no such file", EXIT_USAGE)
    free: dict[int, tuple[int, int]] = {}
    why = None
    if indices is not None:
        free, why = _free(indices, args.sub_replay)
    total = min((t for _, t in free.values()), default=None)
    try:
        est = estimate_file(args.config, kind=args.kind, gpus=count,
                            workdir=Path(args.workdir) if args.workdir else None, gpu_total_bytes=total)
    except EstimateError as exc:
        return _error(args, str(exc), EXIT_BAD)
    fits = {i: fit_line(est, f, i) for i, (f, _) in sorted(free.items())}
    if args.json:
        out = {"ok": True, **est.as_dict()}
        if indices is not None:
            out["gpu_check"] = [{"gpu": i, "free_bytes": free[i][0], "fits": ok, "line": line}
                                for i, (ok, line) in fits.items()]
            if why:
                out["gpu_check_unavailable"] = why
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"{args.config}: {est.kind}, {est.summary()} ({est.per_gpu_bytes:,} bytes) on {est.gpus} GPU(s)")
        for k, v in est.parts.items():
            print(f"  {k:<12}{v / GiB:8.2f} GiB")
        print("assumptions:")
        for a in est.assumptions:
            print(f"  - {a}")
        print("inputs: " + ", ".join(f"{k}={v}" for k, v in est.inputs.items() if v is not None))
        for _, line in fits.values():
            print(line)
        if why:
            print(f"free memory not checked: {why}")
    return EXIT_BAD if any(not ok for ok, _ in fits.values()) else EXIT_OK
