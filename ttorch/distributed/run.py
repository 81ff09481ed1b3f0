"""``python -m ttorch.distributed.run --nproc_per_node=N script.py args...``: a small ``torchrun``.

Starts N processes of ``script.py`` (or ``-m module``) with the environment ``torchrun`` gives them:
RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT. Several hosts:
run it on each with ``--nnodes``, ``--node_rank`` and the same ``--master_addr``/``--master_port``.
When one process fails the others are stopped and the launcher exits with its exit code. There is no
elastic restart, no rendezvous backend and no health monitoring (``torch.distributed.elastic``).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def get_args_parser():
    p = argparse.ArgumentParser(description="ttorch distributed launcher (a subset of torchrun)")
    p.add_argument("--nproc_per_node", "--nproc-per-node", type=str, default="1")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--node_rank", "--node-rank", type=int, default=0)
    p.add_argument("--master_addr", "--master-addr", default="127.0.0.1")
    p.add_argument("--master_port", "--master-port", type=int, default=None)
    p.add_argument("--standalone", action="store_true", help="one node on a free local port")
    p.add_argument("-m", "--module", action="store_true", help="run the script as a module (python -m)")
    p.add_argument("--no_python", "--no-python", action="store_true", help="run the script as an executable")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _nproc(value):
    if value in ("cpu", "auto", "gpu"):
        return os.cpu_count() or 1
    return int(value)


def run(args):
    """Launch the processes of this node; return the first non-zero exit code, else 0."""
    nproc = _nproc(args.nproc_per_node)
    if args.standalone:
        args.nnodes, args.node_rank, args.master_addr = 1, 0, "127.0.0.1"
    port = args.master_port or (_free_port() if args.nnodes == 1 else 29500)
    world = nproc * args.nnodes
    cmd = [] if args.no_python else [sys.executable, "-u"] + (["-m"] if args.module else [])
    cmd += [args.training_script] + list(args.training_script_args)
    procs = []
    for local in range(nproc):
        env = dict(os.environ, RANK=str(args.node_rank * nproc + local), LOCAL_RANK=str(local),
                   WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(nproc), GROUP_RANK=str(args.node_rank),
                   MASTER_ADDR=args.master_addr, MASTER_PORT=str(port), TORCHELASTIC_RUN_ID="none")
        procs.append(subprocess.Popen(cmd, env=env))
    code = 0
    try:
        while None in [p.poll() for p in procs]:   # a list, not any(): every process is polled
            failed = [p for p in procs if p.returncode not in (None, 0)]
            if failed:
                code = failed[0].returncode
                break
            time.sleep(0.05)
        else:
            code = next((p.returncode for p in procs if p.returncode != 0), 0)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return code


def main(args=None):
    code = run(get_args_parser().parse_args(args))
    if code < 0:
        code = 128 - code   # killed by a signal: the shell's convention
    sys.exit(code)


if __name__ == "__main__":
    main()
