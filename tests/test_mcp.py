"""`pixelbuild mcp`: the tools and resources through the official SDK's client.

In process over memory streams (the SDK's JSON-RPC framing, `mode="legacy"`), and once over a
real stdio subprocess (`python -m pixelbuild mcp`). The user's path: add a sprite, build it,
preview it, edit its palette, rebuild only it, and `build --locked` passes; refused edits leave
the manifest byte for byte; paths outside the project are refused; builds serialize on the
project's build lock, which the CLI shares; a cancelled build stops and frees the lock.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from conftest import pb

mcp = pytest.importorskip("mcp", reason="the [mcp] extra (scripts/test.sh installs it)")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from PIL import Image  # noqa: E402

from pixelbuild.mcp.server import make_server  # noqa: E402
from pixelbuild.run.exclusive import hold  # noqa: E402

TOOLS = {
    "plan", "build", "explain", "preview", "add_entry", "edit_entry", "remove_entry",
    "list_palettes", "show_palette", "list_models", "doctor", "compare", "train_lora",
}  # fmt: skip


def session(project, body: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run `body(client)` against an in-process server for `project`."""

    async def main() -> Any:
        async with Client(make_server(project.dir), mode="legacy") as client:
            return await body(client)

    return anyio.run(main)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def test_tools_and_resources_are_listed(proj):
    async def body(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) >= TOOLS
        assert tools["build"].output_schema and tools["plan"].annotations.read_only_hint
        assert "entries" in tools["build"].input_schema["properties"]
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"pixelbuild://manifest", "pixelbuild://lock"} <= uris
        listed = (await client.list_resource_templates()).resource_templates
        templates = {t.uri_template for t in listed}
        assert "pixelbuild://entry/{name}" in templates

    session(proj, body)


def test_add_build_preview_edit_rebuild(proj):
    async def body(client: Client) -> None:
        added = await call(client, "add_entry", kind="sprite", name="gem",
                           fields={"prompt": "a blue gem", "size": 16})  # fmt: skip
        assert added["written"]
        assert [line for line in added["diff"].splitlines() if line.startswith("+ ")] == [
            "+  gem: {prompt: a blue gem, size: 16}"  # as its siblings are written
        ]
        plan = await call(client, "plan")
        assert "gem" in {s["entry"] for s in plan["stale"]}
        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        first = await client.call_tool("build", {}, progress_callback=on_progress)
        assert not first.is_error, first.content
        rebuilt = sorted(first.structured_content["rebuilt"])
        assert rebuilt == ["gem", "grass", "hero", "slime", "walk"]
        assert progress and progress[-1][0] == progress[-1][1]  # every step reported
        shown = await client.call_tool("preview", {"entry": "gem", "scale": 4})
        image = next(c for c in shown.content if c.type == "image")
        assert image.mime_type == "image/png"
        png = Image.open(io.BytesIO(base64.b64decode(image.data)))
        assert png.size == (64, 64) and shown.structured_content["width"] == 64
        sheet = await call(client, "preview", entry="walk")
        assert sheet["frames"] == 3
        framed = await call(client, "preview", entry="walk", frame=2, scale=2)
        assert (framed["width"], framed["frame"]) == (32, 2)
        edited = await call(client, "edit_entry", name="gem", fields={"palette": "db16"})
        assert edited["written"] and "+  gem: {prompt: a blue gem, size: 16, palette: db16}" in (
            edited["diff"].splitlines()
        )
        second = await call(client, "build")
        assert second["rebuilt"] == ["gem"]
        noop = await call(client, "build")
        assert noop["rebuilt"] == [] and "gem" in noop["up_to_date"]
        why = await call(client, "explain", entry="gem")
        assert not why["stale"] and why["locked"]["key"] == why["key"]
        record = await client.read_resource("pixelbuild://entry/gem")
        assert json.loads(record.contents[0].text)["fields"]["palette"] == "db16"
        out = await client.read_resource("pixelbuild://output/sprites/gem.png")
        assert base64.b64decode(out.contents[0].blob).startswith(b"\x89PNG")

    session(proj, body)
    assert pb(proj, "build", "--locked").code == 0


def test_a_refused_edit_writes_nothing_and_says_where(built):
    before = built.manifest.read_bytes()

    async def body(client: Client) -> None:
        fields = {"size": "huge", "frames": 2}
        refused = await call(client, "edit_entry", name="hero", fields=fields)
        assert not refused["written"] and refused["diff"] == ""
        errors = {e["message"]: e for e in refused["errors"]}
        unknown = errors["unknown key 'frames'"]
        assert (unknown["file"], unknown["line"], unknown["entry"]) == (
            "pixels.yaml", 8, "sprite 'hero'"
        )
        assert any(m.startswith("size:") for m in errors)
        unknown_entry = await client.call_tool("edit_entry", {"name": "heroo", "fields": {}})
        assert unknown_entry.is_error and "did you mean 'hero'" in unknown_entry.content[0].text

    session(built, body)
    assert built.manifest.read_bytes() == before


def test_paths_outside_the_project_are_refused(built):
    before = built.manifest.read_bytes()

    async def body(client: Client) -> None:
        escaped = await call(client, "add_entry", kind="sprite", name="evil",
                             fields={"prompt": "x", "out": "../../evil.png"})  # fmt: skip
        assert not escaped["written"]
        assert "may not leave the assets root" in escaped["errors"][0]["message"]
        for rel in ("../pixels.yaml", "%2E%2E/x.png", "/etc/passwd", "sprites/../../x.png"):
            with pytest.raises(MCPError, match="Unknown resource"):  # the SDK's path checks
                await client.read_resource(f"pixelbuild://output/{rel}")
        for rel in ("palettes/x.hex", "pixels.yaml", "sprites/nothing.png"):  # only the lock's
            with pytest.raises(MCPError, match="is not an image output of this project"):
                await client.read_resource(f"pixelbuild://output/{rel}")
        absolute = await call(client, "edit_entry", name="hero", fields={"out": "/tmp/x.png"})
        assert not absolute["written"] and "absolute" in absolute["errors"][0]["message"]
        secret = built.dir.parent / "secret.png"
        secret.write_bytes(b"not the project's")
        hero = built.assets / "sprites" / "hero.png"
        hero.unlink()
        hero.symlink_to(secret)  # an output replaced by a link out of the project
        linked = await client.call_tool("preview", {"entry": "hero"})
        assert linked.is_error and "leads out of the assets folder" in linked.content[0].text
        with pytest.raises(MCPError, match="leads out of the assets folder"):
            await client.read_resource("pixelbuild://output/sprites/hero.png")

    session(built, body)
    assert built.manifest.read_bytes() == before
    assert not (built.dir.parent / "evil.png").exists()


def test_builds_serialize_on_the_project_lock(proj):
    """While another process holds the build lock (a CLI build, watch), builds wait; two builds
    started together run one after the other: the second finds everything built."""
    release = threading.Event()
    held = threading.Event()

    def other_build() -> None:
        (proj.dir / ".pixelbuild").mkdir(exist_ok=True)
        with hold(proj.dir / ".pixelbuild", "build", wait=False, say=print):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=other_build)
    holder.start()
    held.wait(10)

    async def body(client: Client) -> list[dict[str, Any]]:
        waiting: list[str] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            if message and message.startswith("waiting for another pixelbuild"):
                waiting.append(message)
                if len(waiting) == 2:
                    release.set()

        results: list[dict[str, Any]] = []

        async def one() -> None:
            r = await client.call_tool("build", {}, progress_callback=on_progress)
            results.append(r.structured_content)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(one)
                tg.start_soon(one)
        assert len(waiting) == 2 and "pid" in waiting[0]
        return results

    try:
        results = session(proj, body)
    finally:
        release.set()
        holder.join()
    rebuilt = sorted((r["rebuilt"] for r in results), key=len)
    assert rebuilt[0] == [] and sorted(rebuilt[1]) == ["grass", "hero", "slime", "walk"]


def test_a_cancelled_build_stops_and_frees_the_lock(make_project):
    sprites = "\n".join(f"  s{i}: {{prompt: sprite number {i}}}" for i in range(40))
    p = make_project(f"project:\n  size: 16\n  generate: {{canvas: 64}}\nsprites:\n{sprites}\n")

    async def body(client: Client) -> None:
        with anyio.CancelScope() as scope:

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                scope.cancel()

            await client.call_tool("build", {}, progress_callback=on_progress)
        assert scope.cancelled_caught
        with anyio.fail_after(30):  # the server stops the build; then the lock is free again
            while True:
                try:
                    with hold(p.dir / ".pixelbuild", "test", wait=False, say=print):
                        break
                except Exception:
                    await anyio.sleep(0.05)
        plan = await call(client, "plan")
        assert plan["stale"], "the build ran to the end instead of stopping"

    session(p, body)
    assert pb(p, "build", "-q").code == 0  # and a build resumes where it stopped


def test_palettes_models_doctor(proj):
    async def body(client: Client) -> None:
        listed = await call(client, "list_palettes")
        names = {p["name"]: p for p in listed["palettes"]}
        assert names["db32"]["colors"] == 32
        assert names["x"] == {"name": "x", "source": "file", "colors": 6}
        shown = await client.call_tool("show_palette", {"name": "x"})
        assert shown.structured_content["colors"][:2] == ["#000000", "#ffffff"]
        assert any(c.type == "image" for c in shown.content)
        missing = await client.call_tool("show_palette", {"name": "db3"})
        assert missing.is_error and "did you mean" in missing.content[0].text
        models = await call(client, "list_models")
        assert models["models"] == {} and "path" in models["hub_cache"]
        report = await call(client, "doctor")
        assert report["project"]["found"] is True

    session(proj, body)


@pytest.mark.slow
def test_over_a_real_stdio_subprocess(proj):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "pixelbuild", "mcp", "-C", str(proj.dir)]
    )

    async def main() -> None:
        with anyio.fail_after(120):
            await steps()

    async def steps() -> None:
        async with Client(params) as client:
            assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
            built = await call(client, "build")
            assert sorted(built["rebuilt"]) == ["grass", "hero", "slime", "walk"]
            plan = await call(client, "plan")
            assert plan["stale"] == [] and len(plan["up_to_date"]) == 4
            manifest = await client.read_resource("pixelbuild://manifest")
            assert manifest.contents[0].text == proj.manifest.read_text()

    anyio.run(main)


def test_the_command_needs_a_project(tmp_path):
    from conftest import run

    r = run(["mcp", "-C", str(tmp_path)])
    assert r.code == 2 and "no pixels.yaml" in r.err


@pytest.mark.slow
def test_over_streamable_http_on_localhost(proj):
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "pixelbuild", "mcp", "-C", str(proj.dir), "--http", "--port",
         str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip

    async def main() -> None:
        with anyio.fail_after(60):
            while True:  # until it listens
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    assert server.poll() is None, server.stderr.read().decode()
                    await anyio.sleep(0.1)
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                plan = await call(client, "plan")
                assert {s["entry"] for s in plan["stale"]} == {"grass", "hero", "slime", "walk"}

    try:
        anyio.run(main)
    finally:
        server.terminate()
        server.wait(10)


def test_compare_returns_the_sheet_and_changes_nothing(built):
    before = built.manifest.read_bytes()

    async def body(client: Client) -> None:
        compared = await client.call_tool("compare", {"entry": "hero", "axes": {"seed": "1..3"}})
        assert not compared.is_error, compared.content
        assert compared.structured_content["cells"] == 4  # seeds 1..3 and the entry as it is
        image = next(c for c in compared.content if c.type == "image")
        assert Image.open(io.BytesIO(base64.b64decode(image.data))).size[0] > 3 * 16
        again = await call(client, "compare", entry="hero", axes={"seed": "1..3"})
        assert again["generated"] == 0  # every cell is a cached build now
        bad = await client.call_tool("compare", {"entry": "hero", "axes": {"colour": "red"}})
        assert bad.is_error and "unknown compare axes colour" in bad.content[0].text

    session(built, body)
    assert built.manifest.read_bytes() == before


def test_train_lora_names_the_loras_it_can_train(proj):
    async def body(client: Client) -> None:
        r = await client.call_tool("train_lora", {"name": "house-style"})
        assert r.is_error
        assert "no LoRA 'house-style' is trained in this project" in r.content[0].text

    session(proj, body)


def test_the_readme_registration_snippet_starts_this_server():
    import re
    from pathlib import Path

    from pixelbuild.cli import _parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    snippet = next(b for b in re.findall(r"```json\n(.*?)```", readme, re.S) if "mcpServers" in b)
    server = json.loads(snippet)["mcpServers"]["pixelbuild"]
    assert server["command"] == "pixelbuild"
    args = _parser().parse_args(server["args"])
    assert args.command == "mcp" and not args.http


def test_without_the_mcp_package_the_command_says_what_to_install(proj):
    import subprocess

    code = (
        "import sys; sys.modules['mcp'] = None\n"  # as if the [mcp] extra were not installed
        "from pixelbuild.cli import main\n"
        f"sys.exit(main(['mcp', '-C', {str(proj.dir)!r}]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "pip install 'pixelbuild[mcp]'" in r.stderr and "Traceback" not in r.stderr
