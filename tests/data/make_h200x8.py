"""Build tests/data/h200x8_synth.jsonl from the real 2×H200 recording (for layout tests).

GPUs 0/1 are the real readings; 2 answers "GPU is lost"; 3 is real GPU 1 again with alice's
process moved there; 4-7 are idle, using the idle H200 readings of fixtures/nvml/nvidia-smi.txt
(0 MiB used, 37-40 °C, 81-92 W). Run: python tests/data/make_h200x8.py
"""

import copy
import json
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "ftmllm_tui" / "data" / "h200x2_torchrun_and_other_user.jsonl"
OUT = Path(__file__).with_name("h200x8_synth.jsonl")


def idle(dev: dict, index: int) -> dict:
    d = copy.deepcopy(dev)
    d.update(index=index, uuid=f"GPU-00000000-0000-0000-0000-00000000000{index}",
             pci_bus_id=f"00000000:00:{6 + index:02X}.0", temperature=37 + index % 4,
             power_mw=81000 + 3000 * index, sm_clock=345, utilization={"gpu": 0, "memory": 0},
             compute_procs=[], graphics_procs=[], throttle_reasons=1)
    total = d["memory_v2"]["total"]
    d["memory_v2"] = {"total": total, "used": 0, "free": total - 644939776, "reserved": 644939776}
    d["memory"] = {"total": total, "used": 644939776, "free": total - 644939776}
    d.pop("proc_util", None)
    return d


def main() -> None:
    lines = [json.loads(l) for l in SRC.read_text().splitlines()]
    out = [{"meta": dict(lines[0]["meta"], note="synthesized from the real 2xH200 recording")}]
    for sweep in lines[1:11]:
        g0, g1 = sweep["devices"]
        g3 = copy.deepcopy(g1)
        g3.update(index=3, uuid="GPU-00000000-0000-0000-0000-000000000003", pci_bus_id="00000000:00:09.0")
        alice = [p for p in g0["compute_procs"] if p["pid"] == 586]
        g3["compute_procs"] = alice
        g3["proc_util"] = [u for u in g0.get("proc_util", []) if u["pid"] == 586]
        devices = [g0, g1, {"index": 2, "error": "NVMLError_GpuIsLost: GPU is lost"}, g3]
        devices += [idle(g1, i) for i in range(4, 8)]
        s = dict(sweep, count=8, devices=devices)
        out.append(s)
    OUT.write_text("".join(json.dumps(o) + "\n" for o in out))


if __name__ == "__main__":
    main()
