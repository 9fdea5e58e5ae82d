"""Generate the LLaMA-Factory schema the app ships (ftmllm_tui/data/lf_schema/<version>.json).

From an installed LLaMA-Factory (runs scripts/lf_dump_args.py with that environment's Python):

    .venv/bin/python scripts/gen_lf_schema.py --python .venv-lf/bin/python

From a dump in the reference format, for a version that cannot be installed here (the team's pinned
commit 142fd7e of 0.9.2), with template names read from that version's source or wheel:

    .venv/bin/python scripts/gen_lf_schema.py --dump args_0.9.2.json --templates llamafactory-0.9.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ftmllm_tui.core.configs.lfschema import normalize


def templates_from_source(text: str) -> list[str]:
    """Names given to register_template(name=...) in llamafactory/data/template.py."""
    names = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_template":
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    names.append(kw.value.value)
    return sorted(set(names))


def templates_from(path: Path) -> list[str]:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            return templates_from_source(zf.read("llamafactory/data/template.py").decode())
    return templates_from_source(path.read_text())


def dump_with(python: str) -> dict:
    out = subprocess.run([python, str(ROOT / "scripts" / "lf_dump_args.py")], capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--python", help="Python of an environment with llamafactory installed")
    src.add_argument("--dump", type=Path, help="a dump in the reference format")
    ap.add_argument("--templates", type=Path, help="template.py or a llamafactory wheel to read template names from")
    ap.add_argument("--out", type=Path, help="output file (default: ftmllm_tui/data/lf_schema/<version>.json)")
    a = ap.parse_args()
    dump = dump_with(a.python) if a.python else json.loads(a.dump.read_text())
    if a.templates:
        dump["templates"] = templates_from(a.templates)
    schema = normalize(dump)
    out = a.out or ROOT / "ftmllm_tui" / "data" / "lf_schema" / f"{schema['llamafactory']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n")
    print(f"{out}: {len(schema['args'])} arguments, {len(schema['templates'])} templates "
          f"(llamafactory {schema['llamafactory']}, transformers {schema['transformers']})")


if __name__ == "__main__":
    main()
