"""Dump every LLaMA-Factory argument (name, type, default, choices, help) of the installed version.

Run it with the training environment's Python (the one that has llamafactory):

    .venv-lf/bin/python scripts/lf_dump_args.py > dump.json

It reads the argument dataclasses the way transformers' HfArgumentParser does (LLaMA-Factory's parser):
choices from Literal and Enum types (and a field's own `choices` metadata, kept apart). Template names come from the template
registry. The output is the format of the reference dumps; `scripts/gen_lf_schema.py` turns it into the
schema the app ships. Standalone on purpose: it must not import ftmllm_tui (which is not installed in the
training environment).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys


def _jsonable(value):
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _type_text(tp) -> str:
    return (tp if isinstance(tp, str) else str(tp)).replace("typing.", "")


def _choices(tp) -> list | None:
    """Literal values or Enum values found at the top level of the type (through Optional/Union), as the
    reference dumps have them; choices inside a list (e.g. list[FSDPOption]) are not choices of the key."""
    import typing

    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return list(typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.value for m in tp]
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        for arg in typing.get_args(tp):
            found = _choices(arg)
            if found is not None:
                return found
    return None


def _default(field):
    if field.default is not dataclasses.MISSING:
        return _jsonable(field.default)
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        try:
            return _jsonable(field.default_factory())  # type: ignore[misc]
        except Exception:  # noqa: BLE001
            return None
    return None


def dump_group(cls) -> list[dict]:
    import typing

    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: fall back to the raw ones
        hints = {}
    out = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        resolved = hints.get(field.name, field.type)
        entry = {
            "name": field.name,
            "type": _type_text(field.type),
            "default": _default(field),
            "choices": _jsonable(_choices(resolved)),
            "help": field.metadata.get("help"),
        }
        meta = field.metadata.get("choices")
        if meta is not None and entry["choices"] is None:
            entry["metadata_choices"] = _jsonable(list(meta))
        out.append(entry)
    return out


def templates() -> list[str]:
    try:
        from llamafactory.data.template import TEMPLATES
    except Exception:  # noqa: BLE001 - older layouts; the generator can read templates from source instead
        return []
    return sorted(TEMPLATES)


def main() -> None:
    import llamafactory
    import transformers
    from llamafactory import hparams

    groups = {}
    for name in ("ModelArguments", "DataArguments", "FinetuningArguments", "GeneratingArguments",
                 "TrainingArguments", "EvaluationArguments"):
        groups[name] = dump_group(getattr(hparams, name))
    json.dump({"llamafactory": llamafactory.__version__, "transformers": transformers.__version__,
               "groups": groups, "templates": templates()}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
