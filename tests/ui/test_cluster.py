"""The cluster overview with 16 hosts × 8 GPUs (the synthetic 8-GPU recording, parsed by the real
parser into each host's link state) at 80×24; Enter shows a host in the home view; h comes back.
The links here hold fixed states (no SSH: tests/integration/test_hosts.py drives real links)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from ftmllm_tui.core.gpus.samplers import ReplaySampler
from ftmllm_tui.core.hosts.link import LinkState
from ftmllm_tui.ui.screens.cluster import ClusterScreen
from ftmllm_tui.ui.screens.home import HomeScreen

from .conftest import DATA, make_app, screen_text, until


class StillCluster:
    """A cluster whose links keep the states given (what ClusterScreen reads: ``links[name].state``)."""

    def __init__(self, states: list[LinkState]):
        self.links = {st.host: SimpleNamespace(state=st) for st in states}
        self.started = self.stopped = False

    def start(self):
        self.started = True
        return self

    def stop(self):
        self.stopped = True

    def states(self):
        return [link.state for link in self.links.values()]


def states(n: int = 16) -> list[LinkState]:
    rec = ReplaySampler(DATA / "h200x8_synth.jsonl", me="root")
    now = time.time()
    out = [LinkState(f"gpu{i:02d}", "up", rec.sample(), now) for i in range(n - 2)]
    out.append(LinkState(f"gpu{n - 2:02d}", "stale", rec.sample(), now - 42, kind="dropped",
                         error=f"gpu{n - 2:02d}: link dropped (Connection to gpu closed by remote host.)"))
    out.append(LinkState(f"gpu{n - 1:02d}", "down", None, None, kind="auth",
                         error=f"gpu{n - 1:02d}: needs an interactive login: run `ssh gpu{n - 1:02d}` once"))
    return out


async def test_sixteen_hosts_fit_80x24_and_enter_opens_one(clock):
    cluster = StillCluster(states())
    app = make_app(clock, cluster=cluster)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClusterScreen))
        assert cluster.started
        await pilot.pause()
        rows = screen_text(app)
        assert len(rows) <= 24
        text = "\n".join(rows)
        for i in range(16):
            assert f"gpu{i:02d}" in text, text
        assert "60 of 120 GPUs free" in rows[0] + rows[1]  # 15 hosts with data, 4 free each
        assert "alice 30 GPUs" in text and "root 30 GPUs" in text
        assert "stale 42s" in text or "stale 43s" in text
        line15 = next(r for r in rows if "gpu15" in r)
        assert "down" in line15 and "auth" in line15
        # the cursor on the down host: its reason in full below the table
        for _ in range(15):
            await pilot.press("down")
        await pilot.pause()
        assert any("run `ssh gpu15` once" in r for r in screen_text(app))
        # filter
        await pilot.press("slash", "g", "p", "u", "0", "3", "enter")
        await pilot.pause()
        shown = [r for r in screen_text(app) if r.strip().startswith("gpu")]
        assert [r.split()[0] for r in shown] == ["gpu03"]
        await pilot.press("escape")
        # sort by free GPUs: the host without data goes last
        await pilot.press("s")
        await pilot.pause()
        hosts = [r.split()[0] for r in screen_text(app) if r.strip().startswith("gpu")]
        assert hosts[-1] == "gpu15" and "sort free" in screen_text(app)[0]
        # Enter: that host in the home view
        await pilot.press("home", "enter")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen) and app.snapshot is not None)
        assert app.sampler.host == hosts[0] and len(app.snapshot.gpus) == 8
        await until(pilot, lambda: "8 GPUs" in screen_text(app)[0])
        assert "SSH" in app.sampler_label
        # h: back to the overview
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ClusterScreen))
    assert cluster.stopped


async def test_h_without_hosts_says_how(clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert not isinstance(app.screen, ClusterScreen)
        assert any("--hosts" in str(n.message) for n in app._notifications)


async def test_launch_dialog_host_field(clock, tmp_path, monkeypatch):
    """With hosts: the launch dialog's Host (local first, each host, auto); a remote choice shows the
    exact remote command (auto resolved), offers copying the config first, and Start hands the request
    to the overview's remote start. Tab reaches Host before Config; the copy box only for a remote host."""
    from textual.widgets import Checkbox, Select, Static

    from ftmllm_tui.core.hosts.ssh import SshOptions, parse_hosts
    from ftmllm_tui.ui.screens import cluster as cluster_mod
    from ftmllm_tui.ui.screens.launch import LaunchScreen

    rec = ReplaySampler(DATA / "h200x8_synth.jsonl", me="root")
    now = time.time()
    cluster = StillCluster([LinkState("local", "up", rec.sample(), now), LinkState("gpu-a", "up", rec.sample(), now),
                            LinkState("gpu-b", "down", None, None, kind="refused", error="gpu-b: refused")])
    for spec in parse_hosts("local,gpu-a,gpu-b"):
        cluster.links[spec.name].spec = spec
    cluster.opts = SshOptions(tmp_path, remote_command="ftmllm-tui")
    started = []
    monkeypatch.setattr(cluster_mod, "start_remote_launch",
                        lambda app, host, args, copy_config=None, on_done=None: started.append(
                            (host, args, copy_config)))
    local_cfg = tmp_path / "my cfg.yaml"
    local_cfg.write_text("steps: 1\n")
    app = make_app(clock, cluster=cluster)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ClusterScreen))
        app.open_launch(config="/data/sft.yaml", gpus="auto:2", name="try1")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        dlg = app.screen
        await pilot.pause()
        host = dlg.query_one("#host", Select)
        assert host.value == "local" and [v for _, v in host._options] == ["local", "gpu-a", "gpu-b", "auto"]
        box = dlg.query_one("#copy-config", Checkbox)
        ids = [w.id for w in dlg.focus_chain]
        assert ids.index("host") < ids.index("config") and "copy-config" not in ids  # local: no copy box
        host.value = "auto"
        await until(pilot, lambda: "ssh gpu-a" in str(dlg.query_one("#preview", Static).content))
        preview = str(dlg.query_one("#preview", Static).content)
        assert "gpu-a (auto" in preview and "exec $SHELL -l -c" in preview and "--name try1" in preview
        ids = [w.id for w in dlg.focus_chain]
        assert ids.index("host") < ids.index("copy-config") < ids.index("config")
        box.focus()
        await pilot.press("space")  # copy a local file that is not there: one clear line, Start off
        await until(pilot, lambda: "is not a file here" in str(dlg.query_one("#preview", Static).content))
        assert dlg.query_one("#start").disabled
        dlg.query_one("#config").value = str(local_cfg)
        await until(pilot, lambda: "<the copy there>" in str(dlg.query_one("#preview", Static).content))
        assert "receive" in str(dlg.query_one("#preview", Static).content)
        await pilot.click("#start")
        await until(pilot, lambda: started)
        assert started == [("gpu-a", [str(local_cfg), "--gpus", "auto:2", "--name", "try1"], str(local_cfg))]
        # a host that cannot take auto:8 now: auto says so, Start off
        dlg.query_one("#gpus-in").value = "auto:8"
        await until(pilot, lambda: "no host has 8 free GPUs" in str(dlg.query_one("#preview", Static).content))
        assert dlg.query_one("#start").disabled
