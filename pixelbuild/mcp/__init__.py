"""`pixelbuild mcp`: an MCP server through which an AI assistant plans, edits, builds and
previews a project's pixel art (the `[mcp]` extra: the official `mcp` SDK)."""
