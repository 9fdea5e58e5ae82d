"""What every sub-command shares: exit codes and the one-line failure (a JSON object on stdout too with --json)."""

from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_BAD, EXIT_ENV = 0, 1, 2


def json_error(message: str, code: int) -> None:
    json.dump({"ok": False, "error": message, "exit_code": code}, sys.stdout)
    sys.stdout.write("\n")


def fail(msg: str, code: int = EXIT_ENV, as_json: bool = False) -> int:
    """``ftmllm-tui: MSG`` on stderr (and the JSON error object on stdout when ``as_json``); returns ``code``."""
    if as_json:
        json_error(msg, code)
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return code
