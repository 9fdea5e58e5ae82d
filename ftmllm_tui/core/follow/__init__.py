"""Following a run: incremental tail reader, trainer_log / trainer_state / SwanLab metrics, the follower that ties them to a run, terminal plots."""
