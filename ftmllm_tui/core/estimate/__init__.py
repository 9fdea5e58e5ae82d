"""Will it fit? GPU memory estimate from a config and the model's config.json; calibrated on real runs."""
