"""The process table's TIME: a resolution that changes once a minute after the first minute."""

from ftmllm_tui.core.fmt import age


def test_age_resolution():
    assert age(None) == "-"
    assert age(0) == "0s" and age(59.9) == "59s"
    assert age(60) == "1m" and age(3599) == "59m"
    assert age(3600) == "1h00m" and age(3 * 3600 + 2 * 60 + 59) == "3h02m"
    assert age(86400 * 2 + 3 * 3600 + 5) == "2d03h"
    # within a minute after the first one, the text does not change (nothing to repaint)
    assert len({age(t) for t in range(600, 660)}) == 1
