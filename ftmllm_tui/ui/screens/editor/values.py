"""Values: choices, completion and the pickers (model, adapter, dataset, DeepSpeed, template) that write a value into the text.

A part of ``EditorScreen`` (mixed in; ``@on`` handlers stay on the screen class)."""

from __future__ import annotations

import os
from pathlib import Path

from ....core.configs import pickers
from ....core.configs.lfschema import GROUP_WORDS
from ...widgets.yaml_editor import KEY_LINE, YamlEditor, value_span, yaml_scalar

PICKABLE = ("model_name_or_path", "adapter_name_or_path", "dataset", "eval_dataset", "deepspeed", "template")


class ValuesPart:
    def _choices_for(self, key: str) -> list[str]:
        if key == "template":
            return list(self.schema.templates)
        arg = self.schema.args.get(key)
        if arg is None:
            return []
        if arg.choices:
            return [str(c).lower() if isinstance(c, bool) else str(c) for c in arg.choices]
        if "bool" in arg.accepts:
            return ["true", "false"]
        return []

    def set_value(self, key: str, value: str, *, append: bool = False) -> None:
        """Write `key: value` (replacing the value on the key's line, or adding the key at the end)."""
        ed = self.query_one(YamlEditor)
        scalar = yaml_scalar(value)
        for row in range(ed.document.line_count):
            line = ed.document.get_line(row)
            m = KEY_LINE.match(line)
            if m and not m.group("indent") and m.group("key") == key:
                span = value_span(line)
                if span is None:
                    continue
                start, end = span
                old = line[start:end]
                if append and old and old not in ("null", "~"):
                    scalar = yaml_scalar(f"{old.strip(chr(34) + chr(39))},{value}")
                sep = "" if start > m.end("key") + 1 else " "
                ed.replace(sep + scalar, (row, start), (row, end))
                ed.move_cursor((row, start + len(sep) + len(scalar)))
                return
        text = ed.text
        prefix = "" if not text or text.endswith("\n") else "\n"
        end = ed.document.end
        ed.insert(f"{prefix}{key}: {scalar}\n", end)
        ed.move_cursor((ed.document.line_count - 2, len(key) + 2 + len(scalar)))

    def action_complete(self) -> None:
        from ..pick import PickScreen

        ed = self.query_one(YamlEditor)
        row, col = ed.cursor_location
        line = ed.document.get_line(row)
        m = KEY_LINE.match(line)
        cmd = self.current_command()
        if m and not m.group("indent") and col > m.end("key"):
            key = m.group("key")
            choices = self._choices_for(key)
            if not choices:
                self.notify(f"{key} has no fixed choices" + (" · F2 picks a value" if key in PICKABLE else ""),
                            timeout=4)
                return
            found = pickers.templates(choices) if key == "template" else pickers.Found(tuple(
                pickers.Choice(c, c, "", "choice") for c in choices))
            self.app.push_screen(PickScreen(f"{key}: choices", lambda: found), lambda c: c and
                                 self.set_value(key, c.value))
            return
        word = ed.word_before_cursor()
        present = set(self.report.values) if self.report else set()

        def load() -> pickers.Found:
            out = []
            for name in self.schema.names_for(cmd):
                arg = self.schema.args[name]
                if name in present:
                    continue
                groups = "/".join(GROUP_WORDS[g] for g in arg.groups)
                help1 = (arg.help or "").split(". ")[0][:90]
                out.append(pickers.Choice(name, name, f"{groups} · {arg.type_words()} · {help1}", "key"))
            return pickers.Found(tuple(out))

        def chosen(c) -> None:
            if c is None:
                return
            r, cc = ed.cursor_location
            start = cc - len(ed.word_before_cursor())
            arg = self.schema.args[c.value]
            default = "" if arg.default is None else yaml_scalar(str(arg.default).lower()
                                                                 if isinstance(arg.default, bool) else str(arg.default))
            ed.replace(f"{c.value}: {default}", (r, start), (r, cc))

        self.app.push_screen(PickScreen(f"Keys for `{cmd}` (LLaMA-Factory {self.schema.version})", load,
                                        query=word, hint="keys already in the file are left out"), chosen)

    def action_pick(self) -> None:
        from ..pick import PickScreen

        ed = self.query_one(YamlEditor)
        key = ed.key_at(ed.cursor_location[0])
        if key not in PICKABLE:
            menu = pickers.Found(tuple(pickers.Choice(k, k, what, "key") for k, what in (
                ("model_name_or_path", "models in the Hugging Face cache and local model folders"),
                ("adapter_name_or_path", "LoRA adapters in output folders"),
                ("dataset", "datasets in dataset_info.json under dataset_dir"),
                ("eval_dataset", "datasets for evaluation"),
                ("deepspeed", "DeepSpeed JSON configs nearby"),
                ("template", f"chat templates of LLaMA-Factory {self.schema.version}"))))
            self.app.push_screen(PickScreen("Pick a value for…", lambda: menu), lambda c: c and
                                 self._pick_for(c.value))
            return
        self._pick_for(key)

    def _pick_for(self, key: str) -> None:
        from ..pick import PickScreen

        values = self.report.values if self.report else {}
        here = self.path.parent
        workdir = self.workdir
        typed = False  # Enter with no match takes the typed text (a path, a hub id)
        if key == "model_name_or_path":
            folders = list(dict.fromkeys([workdir / "models", here / "models", Path.home() / "models",
                                          *(Path(d).expanduser() for d in self.app.ctx.settings.dirs)]))

            from ....core.models.cache import models_env

            env = models_env(os.environ, self.app.ctx.settings.env)  # the cache runs use ([runs.env] first)

            def load() -> pickers.Found:  # runs in the picker's thread: stat calls included
                extra = [p for p in folders if p.is_dir()]
                found = pickers.models(env, extra)
                if not found.choices:  # say where it looked
                    missing = [str(p) for p in folders if p not in extra]
                    looked = (f"model folders looked in: {', '.join(map(str, extra)) or 'none exist'}"
                              + (f" (not there: {', '.join(missing)})" if missing else ""))
                    found = pickers.Found((), (*found.problems, looked,
                                               "add folders with the setting models.dirs, or type a path or a hub "
                                               "id and press Enter"))
                return found
            hint = (f"Hugging Face cache {pickers.hf_cache_dir(env)} · folders "
                    + ", ".join(str(p) for p in folders) + " · Enter on a typed path takes it")
            typed = True
        elif key == "adapter_name_or_path":
            out = values.get("output_dir")

            def load() -> pickers.Found:
                roots = [p for p in dict.fromkeys((workdir / "saves", here / "saves", workdir, here)) if p.is_dir()]
                if isinstance(out, str):
                    roots.append(Path(out).expanduser().parent)
                return pickers.adapters(roots)
            hint = "folders with adapter_config.json · Enter on a typed path takes it"
            typed = True
        elif key in ("dataset", "eval_dataset"):
            raw = str(values.get("dataset_dir", "data"))

            def load() -> pickers.Found:
                from ....core.configs.lfrefs import resolve

                folder, _ = resolve(raw, self.path, workdir)
                return pickers.datasets(folder or Path(raw))
            hint = f"from {raw}/dataset_info.json"
        elif key == "deepspeed":
            load, hint = (lambda: pickers.deepspeed_configs([here, self.workdir],
                                                            [self.workdir / "examples" / "deepspeed"])), ""
        else:
            load, hint = (lambda: pickers.templates(self.schema.templates)), ""

        def chosen(c) -> None:
            if c is not None:
                self.set_value(key, c.value)
                self.query_one(YamlEditor).focus()

        self.app.push_screen(PickScreen(f"Pick {key}", load, hint=hint, typed=typed), chosen)
