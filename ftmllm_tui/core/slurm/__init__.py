"""Slurm as the engine: sinfo/squeue/scontrol/sacct read through their parseable text formats, sbatch scripts, scancel."""
