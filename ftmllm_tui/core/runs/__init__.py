"""Runs: launch (env + argv), the runner in tmux, the run registry, safe stop (plan, guard, escalate, verify, audit) and run control."""
