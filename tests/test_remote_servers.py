"""The remote cache on real servers: nginx's WebDAV (the protocol of Bazel's HTTP cache) and
moto's S3 server (a mock: it accepts wrong checksums, see remote_servers.py), both on loopback
inside a network namespace made here. Builds run as `pixelbuild` processes in that namespace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PALETTE, SMALL
from remote_servers import Net, start_moto, start_nginx, stop

pytest.importorskip("obstore", reason="needs obstore (the [remote] extra)")
pytestmark = pytest.mark.slow

ENTRIES = ["grass", "hero", "slime", "walk"]


class Backend:
    """A running server, the URL of a fresh prefix on it, and a way to read and write raw
    objects (as a broken disk or a bad upload would) from inside the namespace."""

    def __init__(self, name: str, net: Net, root: Path):
        self.name, self.net, self.root = name, net, root
        self.env: dict[str, str] = {}
        if name == "webdav":
            self.server, self.base = start_nginx(net, root)
        else:
            self.server, self.env = start_moto(net, root)
            self.base = "s3://cache"

    def url(self, prefix: str) -> str:
        return f"{self.base}/{prefix}"

    def pixelbuild(self, *args: str) -> dict:
        """`pixelbuild ARGS --json` in the namespace; its JSON and stderr."""
        env = {**os.environ, **self.env, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PIXELBUILD_CACHE", None)
        p = self.net.run([sys.executable, "-m", "pixelbuild", *args], env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        return {"json": json.loads(p.stdout) if "--json" in args else None, "err": p.stderr}

    def objects(self, prefix: str) -> dict[str, bytes]:
        """Every object under the prefix: key -> bytes."""
        return json.loads(self._python(f"print(json.dumps(listing({prefix!r})))"))

    def overwrite(self, key: str, data: bytes) -> None:
        self._python(f"overwrite({key!r}, bytes.fromhex({data.hex()!r}))")

    def _python(self, code: str) -> str:
        env = {**os.environ, **self.env}
        p = self.net.run([sys.executable, "-c", self._helpers() + code], env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def _helpers(self) -> str:
        if self.name == "webdav":
            dav = self.root / "dav" / "pixelbuild"
            return (
                "import json, pathlib\n"
                f"root = pathlib.Path({str(dav)!r})\n"
                "def listing(prefix):\n"
                "    base = root / prefix\n"
                "    return {str(p.relative_to(base)): p.read_bytes().hex()\n"
                "            for p in sorted(base.rglob('*')) if p.is_file()}\n"
                "def overwrite(key, data):\n"
                "    (root / key).write_bytes(data)\n"
            )
        return (
            "import json, boto3\n"
            "s3 = boto3.client('s3')\n"
            "def listing(prefix):\n"
            "    found = {}\n"
            "    for page in s3.get_paginator('list_objects_v2').paginate(\n"
            "            Bucket='cache', Prefix=prefix + '/'):\n"
            "        for o in page.get('Contents', []):\n"
            "            body = s3.get_object(Bucket='cache', Key=o['Key'])['Body'].read()\n"
            "            found[o['Key'][len(prefix) + 1:]] = body.hex()\n"
            "    return found\n"
            "def overwrite(key, data):\n"
            "    # a wrong SHA-256: the mock stores it anyway\n"
            "    s3.put_object(Bucket='cache', Key=key, Body=data,\n"
            "                  ChecksumSHA256='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')\n"
        )


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    n = Net().start()
    yield n
    n.close()


@pytest.fixture(scope="module", params=["webdav", "s3"])
def backend(request, net, tmp_path_factory) -> Iterator[Backend]:
    if request.param == "webdav" and not (
        shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    ):
        pytest.fail("nginx is missing: scripts/test.sh installs Debian's nginx-light")
    b = Backend(request.param, net, tmp_path_factory.mktemp(request.param))
    yield b
    stop(b.server)


def project(root: Path, name: str, manifest: str = SMALL) -> Path:
    d = root / name
    (d / "palettes").mkdir(parents=True)
    (d / "pixels.yaml").write_text(manifest)
    (d / "palettes" / "x.hex").write_text(PALETTE)
    return d


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_fresh_clone_fetches_final_outputs_only(backend, tmp_path):
    url = backend.url("clone")
    first = project(tmp_path, "first")
    warm = backend.pixelbuild("build", "-C", str(first), "--json", "--remote", url)["json"]
    assert warm["remote"]["hits"] == 0 and warm["remote"]["records_pushed"] > 0
    stored = backend.objects("clone")
    assert sum(k.startswith("ac/") for k in stored) == warm["remote"]["records_pushed"]
    second = project(tmp_path, "second")
    log = backend.root / "access.log"
    seen = log.stat().st_size if log.exists() else 0
    done = backend.pixelbuild("build", "-C", str(second), "--json", "--remote", url)["json"]
    assert done["steps_run"] == {} and sorted(done["rebuilt"]) == ENTRIES
    assert (second / "pixels.lock").read_bytes() == (first / "pixels.lock").read_bytes()
    assert files(second / "assets") == files(first / "assets")
    lock = json.loads((first / "pixels.lock").read_text())["entries"]
    outputs = sum(len(e["outputs"]) for e in lock.values())
    moved = done["remote"]
    assert moved["fetched"] == len(lock) + outputs
    assert moved["fetched_bytes"] < sum(len(bytes.fromhex(v)) for v in stored.values()) / 3
    if backend.name == "webdav":  # what the server saw: GETs of the final records and files
        lines = log.read_bytes()[seen:].decode().splitlines()
        gets = [line for line in lines if re.search(r'"GET /pixelbuild/clone/(ac|cas)/\S+ ', line)]
        assert len(gets) == moved["fetched"] and all('" 200 ' in line for line in gets), lines


def test_corrupt_blob_is_a_miss_with_one_warning(backend, tmp_path):
    url = backend.url("corrupt")
    first = project(tmp_path, "first")
    backend.pixelbuild("build", "-C", str(first), "--remote", url)
    locked = json.loads((first / "pixels.lock").read_text())["entries"]["slime"]
    record = json.loads(bytes.fromhex(backend.objects("corrupt")[f"ac/{locked['key']}"]))
    digest = record["record"]["files"]["sprites/slime.png"]
    backend.overwrite(f"corrupt/cas/{digest}", b"\x89PNG not the image it names")
    second = project(tmp_path, "second")
    r = backend.pixelbuild("build", "-C", str(second), "--remote", url)
    assert r["err"].count(f"cas/{digest}") == 1, r["err"]
    assert r["err"].count("warning: remote cache") == 1, r["err"]
    assert files(second / "assets") == files(first / "assets")
    assert (
        backend.objects("corrupt")[f"cas/{digest}"]
        == files(first / "assets")["sprites/slime.png"].hex()
    )  # the blob rebuilt here replaced the bad one


def test_read_only_never_writes(backend, tmp_path):
    url = backend.url("readonly")
    first = project(tmp_path, "first")
    backend.pixelbuild("build", "-C", str(first), "--remote", url)
    before = backend.objects("readonly")
    second = project(tmp_path, "second", SMALL.replace("a green slime", "a purple slime"))
    args = ("build", "-C", str(second), "--json", "--remote", url, "--remote-read-only")
    done = backend.pixelbuild(*args)["json"]
    assert done["steps_run"] == {"generate": 1, "pixelize": 1, "assemble": 1}
    assert done["remote"]["pushed"] == 0
    assert backend.objects("readonly") == before


WRITER = """
import json, sys
from pixelbuild.remote.cache import RemoteCache
from pixelbuild.remote.url import remote_spec
from pixelbuild.run.project import open_project
project = open_project(__import__("pathlib").Path(sys.argv[1]))
step = next(e.final for e in project.plan().entries if e.name == "hero")
ours = json.loads(json.dumps(project.state.record(step.key)))
ours["meta"]["provenance"] = {"pixelbuild": "another build"}
session = RemoteCache(remote_spec(sys.argv[2])).session(project.state, project.store, print)
session.push(step, ours)
done = session.finish()
print(json.dumps({"done": done, "key": step.key, "local": project.state.record(step.key)}))
project.close()
"""


def test_two_writers_first_wins(backend, tmp_path):
    """A pushes; B, which built the same steps on its own, pushes another record for one key:
    the remote keeps A's and B adopts it."""
    url = backend.url("writers")
    first = project(tmp_path, "first")
    backend.pixelbuild("build", "-C", str(first), "--remote", url)
    second = project(tmp_path, "second")
    backend.pixelbuild("build", "-C", str(second), "--remote", "")  # '' turns a remote off
    before = backend.objects("writers")
    env = {**os.environ, **backend.env}
    p = backend.net.run([sys.executable, "-c", WRITER, str(second), url], env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.splitlines()[-1])
    winner = json.loads(bytes.fromhex(before[f"ac/{out['key']}"]))["record"]
    assert out["done"]["adopted"] == 1
    assert out["local"] == winner
    # S3: create-only (If-None-Match: *); WebDAV: a HEAD first (two writers racing inside
    # that window would both write: the last stays, a valid record either way)
    assert backend.objects("writers") == before


def test_server_down_builds_locally_with_one_warning(net, tmp_path_factory):
    """A server that stopped: one warning, a full local build."""
    root = tmp_path_factory.mktemp("down")
    b = Backend("webdav", net, root)
    stop(b.server)
    r = b.pixelbuild("build", "-C", str(project(root, "p")), "--remote", b.url("x"))
    assert r["err"].count("warning: remote cache") == 1 and "unreachable" in r["err"], r["err"]
    assert "built 4, up to date 0, failed 0" in r["err"]
