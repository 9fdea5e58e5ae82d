"""Build, fully offline, a tiny Qwen2 model + data set + LLaMA-Factory config.

    .venv-lf/bin/python tests/lf/build_tiny.py OUTDIR [--epochs N] [--eval] [--swanlab-local]

prints the path of OUTDIR/tiny_lora_sft.yaml as its last line; then

    HF_HUB_OFFLINE=1 .venv-lf/bin/llamafactory-cli train OUTDIR/tiny_lora_sft.yaml

trains it on CPU (tests/lf/README.md has timings and the 2-rank variant). Needs the
packages of .venv-lf (sh scripts/lf_env.sh): tokenizers, transformers, torch. Nothing
is downloaded. Deterministic: the same arguments give byte-identical model,
tokenizer and data files (and the same losses in training).

Importable too (stdlib only at import time, so the main test venv can import it):
  build(outdir, epochs=3, eval=False, swanlab_local=False) -> Path
      the same as the command line; must run under .venv-lf's Python (from
      another interpreter, run this file with LF_PYTHON as a subprocess);
  train_env(outdir, nproc=1) -> dict
      an environment for `llamafactory-cli train`: HF_HUB_OFFLINE=1 (required:
      without it `datasets` sends a download-count HEAD request to
      s3.amazonaws.com for the local json), .venv-lf/bin first on PATH (torchrun
      must be found when nproc > 1), FORCE_TORCHRUN/NPROC_PER_NODE for nproc > 1,
      and TMPDIR/MPLCONFIGDIR inside OUTDIR (torchrun leaves a torchelastic_* dir
      in TMPDIR per run; matplotlib writes a font cache).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LF_BIN = REPO / ".venv-lf" / "bin"
LF_PYTHON = LF_BIN / "python"
LF_CLI = LF_BIN / "llamafactory-cli"

SEED = 0
VOCAB_SIZE = 300
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PHRASES = [
    "the quick brown fox jumps over the lazy dog",
    "hello world",
    "fine tune a model",
    "loss goes down",
    "gpu memory is full",
    "one more epoch",
    "save the adapter",
    "learning rate warmup",
]
N_ROWS = 40
CONFIG_NAME = "tiny_lora_sft.yaml"


def _rows() -> list[dict[str, str]]:
    return [
        {"instruction": f"say {p}", "input": "", "output": p}
        for p in (PHRASES[i % len(PHRASES)] for i in range(N_ROWS))
    ]


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def _build_tokenizer(corpus: list[str]):
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=512,
        padding_side="right",
    )


def _build_model(model_dir: Path, corpus: list[str]) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    tokenizer = _build_tokenizer(corpus)
    torch.manual_seed(SEED)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" on stderr
    try:
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _yaml(out: Path, epochs: float, eval: bool, swanlab: bool) -> str:
    lines = [
        "### model",
        f"model_name_or_path: {out / 'model'}",
        "trust_remote_code: true",
        f"cache_dir: {out / 'hf_cache'}",
        "",
        "### method",
        "stage: sft",
        "do_train: true",
        "finetuning_type: lora",
        "lora_rank: 4",
        "lora_target: all",
        "",
        "### dataset",
        "dataset: tiny",
        f"dataset_dir: {out / 'data'}",
        "template: qwen",
        "cutoff_len: 64",
        "max_samples: 200",
        "overwrite_cache: true",
        "preprocessing_num_workers: 1",
        "",
        "### output",
        f"output_dir: {out / 'saves' / 'tiny-lora-sft'}",
        "logging_steps: 1",
        "save_steps: 20",
        "save_total_limit: 2",  # long runs (--epochs 200 = 2000 steps) keep 2 checkpoints, not 100
        "plot_loss: true",
        "overwrite_output_dir: true",
        "",
        "### train",
        "per_device_train_batch_size: 2",
        "gradient_accumulation_steps: 1",
        "learning_rate: 1.0e-3",
        f"num_train_epochs: {float(epochs)}",
        "lr_scheduler_type: cosine",
        "warmup_ratio: 0.1",
        "use_cpu: true",
        "report_to: none",
        f"seed: {SEED}",
    ]
    if eval:
        lines += [
            "",
            "### eval",
            "val_size: 0.1",
            "per_device_eval_batch_size: 2",
            "eval_strategy: steps",
            "eval_steps: 10",
        ]
    if swanlab:
        lines += [
            "",
            "### swanlab (local mode: no account, no network)",
            "use_swanlab: true",
            "swanlab_project: ftm-tiny",
            "swanlab_mode: local",
            f"swanlab_logdir: {out / 'swanlog'}",
        ]
    return "\n".join(lines) + "\n"


def build(outdir: str | os.PathLike[str], epochs: float = 3, eval: bool = False,
          swanlab_local: bool = False) -> Path:
    """Create OUTDIR/{model,data,tiny_lora_sft.yaml}; return the config's path."""
    out = Path(outdir).resolve()
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(parents=True, exist_ok=True)

    rows = _rows()
    _write_json(out / "data" / "tiny.json", rows)
    _write_json(out / "data" / "dataset_info.json", {"tiny": {"file_name": "tiny.json"}})

    corpus = [f"{r['instruction']}\n{r['output']}" for r in rows] * 4
    _build_model(out / "model", corpus)

    swanlab = False
    if swanlab_local:
        swanlab = importlib.util.find_spec("swanlab") is not None
        if not swanlab:
            print("build_tiny: swanlab is not installed; config written without it",
                  file=sys.stderr)

    cfg = out / CONFIG_NAME
    cfg.write_text(_yaml(out, epochs, eval, swanlab), encoding="utf-8")
    return cfg


def train_env(outdir: str | os.PathLike[str], nproc: int = 1,
              base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for `llamafactory-cli train OUTDIR/tiny_lora_sft.yaml` (see module doc)."""
    out = Path(outdir).resolve()
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{LF_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HF_HUB_OFFLINE"] = "1"
    for key, sub in (("TMPDIR", "tmp"), ("MPLCONFIGDIR", "mpl")):
        (out / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(out / sub)
    if nproc > 1:
        env["FORCE_TORCHRUN"] = "1"
        env["NPROC_PER_NODE"] = str(nproc)
    else:
        env.pop("FORCE_TORCHRUN", None)
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=float, default=3, help="num_train_epochs (default 3)")
    ap.add_argument("--eval", action="store_true", help="hold out 10%% and evaluate every 10 steps")
    ap.add_argument("--swanlab-local", action="store_true",
                    help="log to SwanLab in local mode under OUTDIR/swanlog "
                         "(if swanlab is installed)")
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here needs the hub anyway
    print(build(a.outdir, epochs=a.epochs, eval=a.eval, swanlab_local=a.swanlab_local))
    return 0


if __name__ == "__main__":
    sys.exit(main())
