"""Domain and system layer, one sub-package per part (gpus, runs, follow, configs, hosts, slurm, models, estimate) plus shared helpers (fmt, background). Never imports Textual."""
