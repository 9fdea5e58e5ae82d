"""An Input suggester that completes paths to configs (→ or End accepts); the folder is read in a
thread, never on the UI thread."""

from __future__ import annotations

import asyncio

from textual.suggester import Suggester

from ...core.configs.pathcomplete import CONFIG_EXTS, complete_path


class PathSuggester(Suggester):
    def __init__(self, exts: tuple[str, ...] = CONFIG_EXTS):
        super().__init__(use_cache=False, case_sensitive=True)
        self.exts = exts

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value, None, exts=self.exts)
