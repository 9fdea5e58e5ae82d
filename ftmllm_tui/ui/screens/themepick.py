"""The theme picker: a command-palette provider listing ftmllm-tui's themes with what they are."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ThemeCommands(Provider):
    def _items(self):
        app = self.app
        for spec in app.themes.themes.values():
            where = "built-in" if spec.source == "built-in" else spec.source
            now = " (current)" if spec.name == app.theme else ""
            yield spec.name + now, f"{spec.description}  [{where}]".strip(), partial(self._use, spec.name)

    def _use(self, name: str) -> None:
        self.app.use_theme(name)
        self.app.notify(f"Theme {name}", timeout=2)

    async def discover(self) -> Hits:
        for title, help_text, cb in self._items():
            yield DiscoveryHit(title, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._items():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_text)
