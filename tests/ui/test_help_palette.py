"""`?` lists every key that works in the view underneath (and not the ones that don't), and the command
palette offers the current view's own actions: home, configs, editor, detail."""

from __future__ import annotations

from textual.binding import Binding

from ftmllm_tui.ui.screens.configs import ConfigsScreen
from ftmllm_tui.ui.screens.detail import RunDetailScreen
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.screens.help import NAVIGATION, HelpScreen, view_commands, view_keys
from ftmllm_tui.ui.screens.home import HomeScreen
from tests.conftest import FakeClock

from .conftest import make_app, until
from .test_detail import out as out  # noqa: F401 - fixture
from .test_editor import app_for
from .test_editor import env as env  # noqa: F401 - fixture


def _own_actions(screen_cls) -> list[Binding]:
    return [b for b in screen_cls.BINDINGS if isinstance(b, Binding)
            and not b.action.split("(")[0].split(".")[-1].startswith(NAVIGATION)]


async def _check_view(app, pilot, screen_cls, title: str, absent_keys=()):
    assert isinstance(app.screen, screen_cls)
    keys = view_keys(app.screen)
    texts = {r.text for r in keys}
    for b in screen_cls.BINDINGS:
        assert (b.tooltip or b.description) in texts, (screen_cls.__name__, b.key)
    labels = {k for r in keys for k in r.keys}
    for k in absent_keys:
        assert k not in labels, (screen_cls.__name__, k)
    cmds = {t for t, _h, _cb in view_commands(app.screen)}
    for b in _own_actions(screen_cls):
        assert any((b.tooltip or b.description) == t or b.description == t for t in cmds), (screen_cls.__name__,
                                                                                            b.key)
    app.action_help()
    await pilot.pause(0.2)
    help_screen = app.screen
    assert isinstance(help_screen, HelpScreen)
    assert title in help_screen.query_one("VerticalScroll").border_title
    await pilot.press("escape")
    await pilot.pause()
    assert isinstance(app.screen, screen_cls)


async def test_home_help_and_palette():
    clock = FakeClock()
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.ingest(app.sampler.sample())
        await pilot.pause()
        await _check_view(app, pilot, HomeScreen, "GPUs & processes")
        # the palette opened here lists the home actions and runs them
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Show only my processes (toggle)" in titles and "Theme" in titles


async def test_editor_help_has_no_keys_the_text_area_eats(env):
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        app.screen.query_one("YamlEditor").focus()
        await pilot.pause()
        # q and ? type text in the editor: the help must not promise them
        await _check_view(app, pilot, EditorScreen, "Config editor", absent_keys=("q", "?"))
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert any("Validate, show the diff, save" in t for t in titles)
        assert "Show only my processes (toggle)" not in titles  # home actions only on the home view


async def test_configs_help_and_palette(env):
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        app.screen.action_close()
        await pilot.pause()
        app.open_configs()
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen))
        await _check_view(app, pilot, ConfigsScreen, "Configs")


async def test_detail_help_and_palette(out):  # noqa: F811
    clock = FakeClock()
    app = make_app(clock, open_ref=str(out))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await _check_view(app, pilot, RunDetailScreen, getattr(RunDetailScreen, "HELP_TITLE", "GPUs"))


async def test_editor_at_80x24_problems_shrink_and_key_help_toggles(env):
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        ed = app.screen
        box = ed.query_one("#keyhelp-box")
        assert not box.display or box.region.width == 0  # narrow: hidden by default
        problems = ed.query_one("#problems")
        assert problems.region.height <= 3  # a clean file: one line, not a 7-row box
        assert ed.query_one("YamlEditor").region.height >= 16
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert box.region.width > 0
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert box.region.width == 0


async def test_configs_header_click_sorts_and_folders_are_short(env):
    from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
    from ftmllm_tui.settings import Settings
    from ftmllm_tui.ui.app import FtmApp

    tmp, cfg = env
    for name in ("b.yaml", "a.yaml"):
        (tmp / "configs" / name).write_text("stage: sft\n")
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                 settings=Settings(config_dirs=(str(tmp / "configs"),)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.entries)
        scr = app.screen
        table = scr.query_one("DataTable")
        ours = lambda: [e.path.name for e in scr.shown if e.path.parent == tmp / "configs"]  # noqa: E731
        await pilot.click(table, offset=(8, 0))  # the FILE header
        await pilot.pause()
        assert ours() == sorted(ours())
        await pilot.click(table, offset=(8, 0))
        await pilot.pause()
        assert ours() == sorted(ours(), reverse=True)
        row = next(i for i, e in enumerate(scr.shown) if e.path == cfg)
        assert str(table.get_row_at(row)[5]) == "./configs"  # relative to the working directory


async def test_deep_check_shows_progress_and_f8_cancels(env):
    tmp, cfg = env
    app = app_for(cfg, lf_python="/bin/sh -c 'sleep 60' sh", llamafactory_version="0.9.5")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        ed = app.screen
        await pilot.press("f8")
        await until(pilot, lambda: "deep check" in ed.query_one("#edstatus").text.plain)
        assert "F8 cancels" in ed.query_one("#edstatus").text.plain
        await pilot.pause(1.2)
        assert " 1 s" in ed.query_one("#edstatus").text.plain or " 2 s" in ed.query_one("#edstatus").text.plain
        await pilot.press("f8")
        await until(pilot, lambda: any("cancelled" in str(n.message) for n in app._notifications), timeout=5)
        assert ed._deep_cancel is None and "deep check" not in ed.query_one("#edstatus").text.plain


def test_an_unexpected_error_is_a_short_message_and_a_log_not_a_traceback(tmp_path):
    """In a real pty: an error in a handler ends the app with two lines and errors.log, not a traceback."""
    import os

    from .test_pty import read_until, running, wait_exit

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import ftmllm_tui.ui.screens.home as h\n"
        "def broken(self):\n    raise RuntimeError('boom in a handler')\n"
        "h.HomeScreen.action_window = broken\n")
    # a state dir whose path is longer than the terminal is wide, whatever the temp dir's own length:
    # the path must come out whole on a line of its own, never hard-wrapped (it is meant to be copied)
    state = tmp_path / ("a-long-state-directory-name-" * 4) / "state"
    env = {"XDG_STATE_HOME": str(state), "FTMLLM_SPLASH": "0",
           "PYTHONPATH": f"{hook}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log_path = state / "ftmllm-tui" / "errors.log"
    assert len(str(log_path)) > 120
    with running(["--replay", "tests/data/h200x8_synth.jsonl"], env=env) as (pid, fd):
        out = read_until(fd, b"Processes", 20)
        os.write(fd, b"w")
        out += read_until(fd, b"see them.", 10)  # what the terminal shows after the app ends
        code = wait_exit(pid, fd, 10)
    log = log_path.read_text()
    assert "RuntimeError: boom in a handler" in log and "Traceback" in log
    assert code == 1
    assert b"stopped on an unexpected error" in out and b"RuntimeError: boom in a handler" in out
    assert b"Traceback" not in out
    assert b"\n" + str(log_path).encode() + b"\r\n" in out, out[-600:]
