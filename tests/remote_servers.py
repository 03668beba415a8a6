"""Real servers for the remote-cache tests, on loopback inside a network namespace of their own.

`Net` makes the namespace (`unshare -n`, or `unshare -rn` without root) with only `lo` up, and
runs commands in it through `nsenter`: the servers and the `pixelbuild` builds see nothing but
each other. Where unshare is not permitted (some containers), it falls back to the host's
loopback and says so with a warning.

- `nginx` (Debian's nginx-light, the WebDAV module: `dav_methods PUT`, `create_full_put_path`)
  runs with `master_process off`, so it stays the user who started it and can write its folder
  (a master running as root would hand requests to `nobody`, whose PUTs fail with 500). Its
  access log lets a test count what the builds fetched, as the server saw it.
- `moto` in server mode speaks the S3 wire protocol. It is a mock, not storage: it accepts
  uploads whose checksums are wrong (which is why pixelbuild verifies every blob itself); it
  does honour `If-None-Match: *`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      root {root}/dav;
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 0;
    }}
  }}
}}
"""


class Net:
    """A network namespace with loopback only, or the host's loopback as a fallback."""

    def __init__(self) -> None:
        self.holder: subprocess.Popen[bytes] | None = None
        self.prefix: list[str] = []
        self.isolated = False

    def start(self) -> Net:
        flags = ["-n"] if os.geteuid() == 0 else ["-r", "-n"]
        enter = ["-n"] if os.geteuid() == 0 else ["-U", "-n", "--preserve-credentials"]
        why = "unshare or nsenter is not installed"
        if shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip"):
            holder = subprocess.Popen(["unshare", *flags, "sleep", "86400"])
            prefix = ["nsenter", "-t", str(holder.pid), *enter]
            time.sleep(0.2)
            up = subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True)
            if holder.poll() is None and up.returncode == 0:
                self.holder, self.prefix, self.isolated = holder, prefix, True
                return self
            holder.kill()
            holder.wait()
            why = f"unshare -n is not permitted here ({up.stderr.decode().strip() or 'exited'})"
        warnings.warn(f"{why}: the remote-cache servers run on the host's loopback", stacklevel=2)
        return self

    def popen(self, args: list[str], log: Path, **kw: object) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:  # the server keeps its own copy of the descriptor
            return subprocess.Popen(
                [*self.prefix, *args], stdout=out, stderr=subprocess.STDOUT, **kw
            )

    def run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, *args], capture_output=True, text=True, **kw)

    def wait_port(self, port: int, server: subprocess.Popen[bytes], log: Path) -> None:
        """Until something listens on 127.0.0.1:port (inside the namespace)."""
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()"
        for _ in range(100):
            if server.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
            if self.run([sys.executable, "-c", probe]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"server did not listen on {port}: {log.read_text()[-2000:]}")

    def close(self) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()


def free_port() -> int:
    """A port free on the host (in a fresh namespace every port is free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nginx(net: Net, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx serving WebDAV from root/dav; returns the process and the cache URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    (root / "dav").mkdir(parents=True)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port))
    server = net.popen(
        [nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")], root / "nginx.out"
    )
    net.wait_port(port, server, root / "error.log")
    return server, f"http://127.0.0.1:{port}/pixelbuild"


def start_moto(net: Net, root: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """moto's S3 server; returns the process and the AWS_* environment a client needs
    (the bucket `cache` is made by the first request through boto3, in the namespace)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    server = net.popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], root / "moto.log"
    )
    net.wait_port(port, server, root / "moto.log")
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    make = (
        f"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', "
        "aws_access_key_id='testing', aws_secret_access_key='testing', "
        "region_name='us-east-1').create_bucket(Bucket='cache')"
    )
    made = net.run([sys.executable, "-c", make])
    if made.returncode != 0:
        raise RuntimeError(made.stderr)
    return server, env


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
