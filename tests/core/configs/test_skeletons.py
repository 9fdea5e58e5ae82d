"""The skeletons a new config starts from are valid for their command (schema level)."""

from __future__ import annotations

import pytest

from ftmllm_tui.core.configs.lfschema import available_versions, load
from ftmllm_tui.core.configs.lfvalidate import validate
from ftmllm_tui.core.configs.skeletons import COMMAND_OF, SKELETONS


@pytest.mark.parametrize("version", available_versions())
@pytest.mark.parametrize("kind", sorted(SKELETONS))
def test_each_skeleton_validates_for_its_command(kind, version):
    _what, text = SKELETONS[kind]
    report = validate(text, schema=load(version), command=COMMAND_OF[kind], check_files=False)
    assert report.syntax_ok and not report.errors, [str(f.message) for f in report.errors]
