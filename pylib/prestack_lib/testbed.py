"""testbed.py - the testbed's names and addresses from experiments/testbed.env
(KEY=VALUE lines that the shell scripts source), as module constants:
NS_CLI, DEV_CLI, IP_CLI, NS_SRV, DEV_SRV, IP_SRV, PORT (an int), PREFIX,
NS_MBX, MBX_CLI, MBX_SRV, DEV_SIDE, DEV_SIDE_PEER, IP_SIDE_SRV, IP_SIDE_CLI;
TGT is prestack's --netns/--dev target."""
import os

from . import TOP

ENV_FILE = os.path.join(TOP, "experiments", "testbed.env")


def read_env(path=ENV_FILE):
    """The KEY=VALUE lines of a shell-sourceable file; # comments skipped."""
    env = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            k, sep, v = line.partition("=")
            if not sep or not k.isidentifier():
                raise ValueError(f"{path}:{n}: not KEY=VALUE: {line!r}")
            env[k] = v
    return env


_env = read_env()
NS_CLI, DEV_CLI, IP_CLI = _env["NS_CLI"], _env["DEV_CLI"], _env["IP_CLI"]
NS_SRV, DEV_SRV, IP_SRV = _env["NS_SRV"], _env["DEV_SRV"], _env["IP_SRV"]
PORT = int(_env["PORT"])
PREFIX = _env["PREFIX"]
NS_MBX, MBX_CLI, MBX_SRV = _env["NS_MBX"], _env["MBX_CLI"], _env["MBX_SRV"]
# the second path into the server namespace (coherence_window.py)
DEV_SIDE, DEV_SIDE_PEER = _env["DEV_SIDE"], _env["DEV_SIDE_PEER"]
IP_SIDE_SRV, IP_SIDE_CLI = _env["IP_SIDE_SRV"], _env["IP_SIDE_CLI"]
TGT = ["--netns", NS_SRV, "--dev", DEV_SRV]
