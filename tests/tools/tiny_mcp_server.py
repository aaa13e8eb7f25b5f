"""A real, tiny MCP server on stdio (the official SDK), used by the tests as a toolset."""

from mcp.server.mcpserver import MCPServer

app = MCPServer("tiny")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    if not text:
        raise ValueError("nothing to shout")
    return text.upper()


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--port"]:  # streamable HTTP on loopback, at /mcp
        app.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
