#!/bin/sh
# System packages the tests need. Installs what is missing with apt-get (as root, or with sudo).
set -e
need=""
command -v tmux >/dev/null 2>&1 || need="$need tmux"
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v rsvg-convert >/dev/null 2>&1 || need="$need librsvg2-bin"
# a throwaway one-node Slurm for tests/integration/test_slurm.py (started and stopped by the tests)
[ -x /usr/sbin/slurmctld ] || need="$need slurmctld"
[ -x /usr/sbin/slurmd ] || need="$need slurmd"
[ -x /usr/sbin/munged ] || need="$need munge"
command -v sbatch >/dev/null 2>&1 || need="$need slurm-client"
[ -z "$need" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "sysdeps: please install:$need (no apt-get here)" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "sysdeps: please install:$need (needs root)" >&2
    exit 1
fi
echo "sysdeps: installing$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
