"""read_progress: the last eval_loss even when evaluations are far back in a long trainer_log."""

from __future__ import annotations

import json

from ftmllm_tui.core.runs.runctl import read_progress


def line(step, **kw):
    d = {"current_steps": step, "total_steps": 20000, "epoch": step / 100, "percentage": step / 200,
         "elapsed_time": "0:10:00", "remaining_time": "1:00:00"}
    d.update(kw)
    return json.dumps(d) + "\n"


def test_last_eval_loss_found_beyond_the_tail(tmp_path):
    path = tmp_path / "trainer_log.jsonl"
    text = "".join(line(s, loss=2.0, lr=1e-4) for s in range(1, 500))
    text += line(500, eval_loss=1.25)
    text += "".join(line(s, loss=1.9, lr=1e-4) for s in range(501, 1001))  # ~100 KB after the eval
    path.write_text(text)
    p = read_progress(str(tmp_path))
    assert p is not None and p.step == 1000 and p.eval_loss == 1.25
    # a later evaluation wins; the earlier scan is remembered, not trusted over new lines
    with open(path, "a") as f:
        f.write(line(1001, eval_loss=1.5) + "".join(line(s, loss=1.8, lr=1e-4) for s in range(1002, 1400)))
    assert read_progress(str(tmp_path)).eval_loss == 1.5
    with open(path, "a") as f:
        f.write("".join(line(s, loss=1.7, lr=1e-4) for s in range(1400, 1800)))
    assert read_progress(str(tmp_path)).eval_loss == 1.5


def test_no_evaluation_gives_none(tmp_path):
    (tmp_path / "trainer_log.jsonl").write_text("".join(line(s, loss=2.0, lr=1e-4) for s in range(1, 800)))
    assert read_progress(str(tmp_path)).eval_loss is None
