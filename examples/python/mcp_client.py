#!/usr/bin/env python3
"""Connect the Python MCP SDK to `mcp_server` through `auth_server`, as a user would.

    pip install mcp==2.3.0
    python3 examples/python/mcp_client.py [MCP_URL]      # default http://127.0.0.1:3100/mcp

The SDK finds everything from the server's first 401: the protected resource metadata,
the authorization server's metadata, its registration endpoint. It registers this script
as a public client, then the script opens the authorization URL in your browser (or
prints it) and waits on http://127.0.0.1:8765/callback for the redirect with the code.
Log in as a `DEMO_USERS` user; the script then lists the tools and calls them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import Client, MCPError
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

CALLBACK_PORT = 8765
REDIRECT_URI = f"http://127.0.0.1:{CALLBACK_PORT}/callback"


class MemoryStorage:
    """Where the SDK keeps its registration and tokens: in memory, for one run."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Callback:
    """A one-shot HTTP server on the redirect URI that hands the SDK the code."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None
        self.done = threading.Event()
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                query = parse_qs(urlsplit(self.path).query)
                if "code" in query:
                    callback.result = AuthorizationCodeResult(
                        code=query["code"][0],
                        state=query.get("state", [None])[0],
                        iss=query.get("iss", [None])[0],
                    )
                    body = b"Logged in: you can close this tab."
                else:
                    body = f"Authorization failed: {query}".encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)
                callback.done.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", CALLBACK_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def redirect_handler(self, authorization_url: str) -> None:
        print(f"Log in at:\n  {authorization_url}\n", flush=True)
        webbrowser.open(authorization_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        await asyncio.to_thread(self.done.wait)
        self.done.clear()
        if self.result is None:
            raise RuntimeError("the authorization server redirected without a code")
        return self.result


async def main(mcp_url: str) -> None:
    callback = Callback()
    auth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="jwt-tower MCP example client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=callback.redirect_handler,
        callback_handler=callback.callback_handler,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            tools = await client.list_tools()
            print("tools:", ", ".join(tool.name for tool in tools.tools))
            for name, arguments in [
                ("whoami", {}),
                ("orders_create", {"item": "widget"}),
                ("orders_list", {}),
            ]:
                try:
                    result = await client.call_tool(name, arguments)
                except MCPError as refused:  # a 403 insufficient_scope, after the SDK's step-up
                    print(f"{name}: refused: {refused}")
                    continue
                text = " ".join(getattr(part, "text", "") for part in result.content)
                print(f"{name}: {text}")
    callback.server.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3100/mcp"))
