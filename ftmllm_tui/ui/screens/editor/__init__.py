"""The config editor, split by what it holds: ``screen`` (the screen: layout, loading, header, find, launch, close), ``problems`` (validation, Problems list, deep check), ``keyhelp`` (key help panel, status line), ``values`` (completion, pickers), ``saving`` (save, conflicts, backups)."""

from .saving import backup_dir
from .screen import EditorScreen

__all__ = ["EditorScreen", "backup_dir"]
