"""`logs` and `plot` from the command line, on the real run's files and on a growing log."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)), **kw)


def test_plot_an_output_dir():
    r = cli("plot", str(DATA / "lf_run"), "--width", "80", "--height", "12")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("lf_run: loss, eval_loss   step 54/54")
    assert any("⠀" < ch <= "⣿" for ch in r.stdout)  # braille dots
    assert "lr" in lines and max(len(x) for x in lines) <= 80
    assert "\x1b[" not in r.stdout  # not a terminal: plain text


def test_plot_a_trainer_log_with_metrics_smoothing_and_window():
    r = cli("plot", str(DATA / "lf_run" / "trainer_log.jsonl"), "--metric", "loss", "--smooth", "0.8",
            "--last", "20", "--log", "--width", "60", "--height", "8")
    assert r.returncode == 0, r.stderr
    axis = r.stdout.splitlines()[-2].split()
    assert axis[0] == "35" and axis[-1] == "54"  # the last 20 steps only


def test_plot_overlays_several_runs():
    r = cli("plot", str(DATA / "lf_run"), str(DATA / "trainer_log.v0.9.5_tf5.6.sample.jsonl"),
            "--width", "70", "--height", "10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("loss — lf_run, ")


def test_plot_errors():
    r = cli("plot", str(DATA / "lf_run"), "--metric", "nope")
    assert r.returncode == 1 and "it has:" in r.stderr and "loss" in r.stderr
    r = cli("plot", "/nonexistent/dir")
    assert r.returncode == 2 and "neither a file" in r.stderr
    r = cli("plot", str(DATA / "lf_run"), "--smooth", "1.5")
    assert r.returncode == 2


def test_plot_from_a_console_log_only(tmp_path):
    log = tmp_path / "console.log"
    shutil.copy(DATA / "console_tiny_lora_sft.log", log)
    r = cli("plot", str(log), "--width", "70")
    assert r.returncode == 0, r.stderr and "order of logging" in r.stdout


def test_logs_last_lines_and_follow_until_ctrl_c(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    r = cli("logs", str(log), "-n", "5")
    assert r.returncode == 0 and r.stdout.splitlines() == [f"line {i}" for i in range(95, 100)]
    p = subprocess.Popen([sys.executable, "-m", "ftmllm_tui.cli", "logs", str(log), "-f", "-n", "1"],
                         stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert p.stdout.readline().strip() == "line 99"
        with open(log, "a") as f:
            f.write("step 1/10\rstep 5/10\rstep 10/10\nnew line\n")
        assert p.stdout.readline().strip() == "step 10/10"  # the \r redraws collapsed
        assert p.stdout.readline().strip() == "new line"
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()


def test_logs_tails_any_file_given_by_path_even_a_trainer_log(tmp_path):
    """`logs OUTPUT_DIR/trainer_log.jsonl` tails that file (as tail -f would), it is not taken as metrics."""
    out = tmp_path / "saves" / "sft"
    out.mkdir(parents=True)
    rows = [f'{{"current_steps": {i}, "total_steps": 10, "loss": {2 - i / 10}}}' for i in range(1, 6)]
    log = out / "trainer_log.jsonl"
    log.write_text("".join(r + "\n" for r in rows))
    (out / "running_log.txt").write_text("the console log, not the file asked for\n")
    r = cli("logs", str(log), "-n", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == rows[-2:]
    for name in ("trainer_state.json", "metrics.jsonl"):  # other names the resolver knows: as they are too
        (out / name).write_text("{}\n")
        r = cli("logs", str(out / name))
        assert (r.returncode, r.stdout) == (0, "{}\n"), r.stderr
    r = cli("logs", str(out))  # a directory is still resolved to its console log
    assert r.returncode == 0 and r.stdout == "the console log, not the file asked for\n"
    p = subprocess.Popen([sys.executable, "-m", "ftmllm_tui.cli", "logs", str(log), "-f", "-n", "1"],
                         stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert p.stdout.readline().strip() == rows[-1]
        with open(log, "a") as f:
            f.write('{"current_steps": 6, "total_steps": 10, "loss": 1.4}\n')
        assert p.stdout.readline().strip() == '{"current_steps": 6, "total_steps": 10, "loss": 1.4}'
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()


def test_logs_of_a_run_without_a_log(tmp_path):
    r = cli("logs", str(tmp_path))
    assert r.returncode == 2 and "no console log" in r.stderr


def test_plot_a_swanlab_local_logdir():
    """A real SwanLab 0.10.3 local run written by LLaMA-Factory (tests/data/swanlog)."""
    r = cli("plot", str(DATA / "swanlog"), "--width", "70", "--height", "10")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("swanlog: loss, eval_loss   step 18")


def test_swanlab_metrics_match_llamafactory_names():
    from ftmllm_tui.core.follow.follow import metrics_for, resolve

    m = metrics_for(resolve(str(DATA / "swanlog"), None))
    assert {"loss", "eval_loss", "lr", "grad_norm"} <= set(m.names())
    assert m.source.startswith("SwanLab") and len(m.get("loss")) == 18
