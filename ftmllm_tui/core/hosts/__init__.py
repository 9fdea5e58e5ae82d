"""Several GPU servers over the user's own SSH: one OpenSSH master per host, the remote app run as a streamer, the nvidia-smi fallback, remote runs."""
