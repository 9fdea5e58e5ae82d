"""Write ftmllm_tui/data/lf_arg_groups.json: which LLaMA-Factory argument group each key belongs to.

Input: argument dumps of LLaMA-Factory (name, type, default, choices, help per dataclass group), e.g.
the reference dumps of 0.9.2 (commit 142fd7e) and 0.9.5. Used by the launcher's pre-flight check
"a training config given to webchat/export". (The full per-version schema is a separate file.)

    python scripts/arg_groups.py DUMP.json [DUMP.json ...]
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "ftmllm_tui" / "data" / "lf_arg_groups.json"


def main(paths: list[str]) -> None:
    groups: dict[str, set[str]] = {}
    versions = []
    for p in paths:
        d = json.loads(Path(p).read_text())
        versions.append(d.get("llamafactory", "?"))
        for group, args in d["groups"].items():
            groups.setdefault(group, set()).update(a["name"] for a in args)
    out = {"llamafactory_versions": versions,
           "groups": {g: sorted(names) for g, names in sorted(groups.items())}}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({sum(len(v) for v in groups.values())} keys)")


if __name__ == "__main__":
    main(sys.argv[1:])
