"""A real local Ray cluster for tests and benches: a head with fake GPUs, off the host's network.

Ray binds the host's address, not loopback, so the head runs in a network namespace of its own
(`unshare -n`, then `ip link set lo up`) where nothing but loopback exists; every command that
joins it runs in that namespace too (`nsenter --net`). Where namespaces are not permitted the head
binds 127.0.0.1 instead. Token authentication is off (`RAY_AUTH_MODE=disabled`): no token is
written to ~/.ray. `num_gpus` fakes GPUs: Ray hands each actor its own CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6390
ACTOR_TITLE = "ray::GenerationActor"


def netns_permitted() -> bool:
    """Whether this process may make a network namespace and bring its loopback up."""
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        return False
    probe = ["unshare", "-n", "sh", "-c", "ip link set lo up"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


class LocalCluster:
    """`ray start --head --block` with `num_gpus` fake GPUs, stopped by `close` (by its pid)."""

    def __init__(self, num_gpus: int = 2, num_cpus: int = 2):
        self.temp = Path(tempfile.mkdtemp(prefix="pbray-"))
        self.isolated = netns_permitted()
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        self.env.pop("RAY_ADDRESS", None)
        head = [
            sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
            f"--port={PORT}", f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.temp}",
        ]  # fmt: skip
        if self.isolated:
            script = "ip link set lo up && exec " + " ".join(head)
            cmd = ["unshare", "-n", "sh", "-c", script]
        else:
            cmd = [*head, "--node-ip-address=127.0.0.1"]
        self.log = open(self.temp / "head.log", "w")  # noqa: SIM115  (closed by close())
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.temp,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip  (cwd: a folder where no `ray.py` shadows the package, as bench/ has)
        self.address = f"127.0.0.1:{PORT}"
        self._wait_up()

    def _wait_up(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start failed:\n{(self.temp / 'head.log').read_text()}")
            if "Ray runtime started" in (self.temp / "head.log").read_text():
                return
            time.sleep(0.2)
        self.close()
        raise RuntimeError("the Ray head did not start in time")

    def command(self, args: list[str]) -> list[str]:
        """`args` as a command that runs where the cluster is reachable."""
        if not self.isolated:
            return args
        return ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", *args]

    def pixelbuild(self, args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
        """The `pixelbuild` CLI as a subprocess, in the cluster's network."""
        cmd = self.command([sys.executable, "-m", "pixelbuild", *args])
        return subprocess.run(
            cmd, cwd=self.temp, env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    def actor_pids(self, busy: bool = False) -> list[int]:
        """Processes of our generation actors (`busy`: only those painting a batch now)."""
        title = re.compile(rf"^{re.escape(ACTOR_TITLE)}(\.generate)?\b")
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            m = title.match(cmdline)
            if m and (m.group(1) or not busy):
                found.append(int(entry.name))
        return sorted(found)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)
