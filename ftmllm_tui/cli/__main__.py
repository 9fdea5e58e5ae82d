"""``python -m ftmllm_tui.cli``."""

from . import run

run()
