"""The `pixelbuild mcp` command: the server on stdio (what MCP clients launch) or HTTP."""

from __future__ import annotations

import argparse
from typing import Any

from pixelbuild.errors import UsageError

HTTP_PORT = 8475  # --http (watch --serve uses 8474)
MCP_HELP = "serve this project to an AI assistant over MCP (plan, edit, build, preview)"
MCP_DESCRIPTION = """\
Serve the project to an AI assistant through the Model Context Protocol. The assistant plans,
edits pixels.yaml (validated; comments and formatting kept), builds and previews entries. By
default the server speaks MCP on stdin/stdout, as MCP clients launch it; --http serves the
streamable HTTP transport on localhost instead. Builds take the project's build lock, so they
never collide with `pixelbuild build` or `watch`. Needs the [mcp] extra.
"""
MCP_EPILOG = """\
examples:
  pixelbuild mcp -C game/                  stdio, for an MCP client to launch
  pixelbuild mcp -C game/ --http           http://127.0.0.1:8475/mcp

an MCP client's configuration (e.g. .mcp.json, claude_desktop_config.json):
  {"mcpServers": {"pixelbuild": {"command": "pixelbuild", "args": ["mcp", "-C", "/path/to/game"]}}}
"""


def add_mcp_command(subparsers: Any, common_parent: argparse.ArgumentParser) -> None:
    """Add `mcp` to the CLI's sub-parsers (`common_parent` brings -C and -f)."""
    p = subparsers.add_parser(
        "mcp", parents=[common_parent], help=MCP_HELP, description=MCP_DESCRIPTION,
        epilog=MCP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument(
        "--http", action="store_true", help="serve streamable HTTP on localhost instead of stdio"
    )
    p.add_argument(
        "--port", type=int, default=HTTP_PORT, metavar="PORT",
        help=f"the port for --http (default: {HTTP_PORT})",
    )  # fmt: skip
    p.set_defaults(run=run_mcp, command="mcp")


def run_mcp(args: argparse.Namespace) -> int:
    from pixelbuild.manifest.load import MANIFEST_NAME

    manifest = (args.manifest or args.directory / MANIFEST_NAME).resolve()
    if not manifest.is_file():
        raise UsageError(
            f"no {manifest.name} in {manifest.parent}: run `pixelbuild init` there, or point at "
            "a project with -C DIR (or -f FILE)"
        )
    try:
        from pixelbuild.mcp.server import make_server
    except ImportError as exc:
        if exc.name != "mcp" and not str(exc.name).startswith("mcp."):
            raise
        raise UsageError(
            "the MCP server needs the `mcp` package: pip install 'pixelbuild[mcp]'"
        ) from None
    server = make_server(args.directory, args.manifest)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run("stdio")
    return 0
