"""LLaMA-Factory configs: the argument schema, validation (instant and deep), references to files and datasets, atomic file I/O, pickers, recent files."""
