"""Textual UI: screens, widgets, styles. Reads snapshots; never calls NVML, psutil or the disk."""
