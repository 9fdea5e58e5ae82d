"""Domain and system layer: samplers, snapshots, history. Never imports Textual."""
