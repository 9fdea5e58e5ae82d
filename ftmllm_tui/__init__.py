"""ftmllm-tui: a terminal companion for fine-tuning LLMs with LLaMA-Factory on shared GPU servers."""

__version__ = "0.1.0"
