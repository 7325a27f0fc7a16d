#!/usr/bin/env python3
r"""The Python MCP SDK (`mcp` on PyPI) against examples/mcp_server through examples/auth_server.

Both servers run as processes; tests/mcp_python.rs starts them and runs this script. By hand
(`pip install mcp==2.3.0`; clients.json holds the confidential client
`[{"client_id": "orders-bot", "client_secret": "orders-bot-secret-0123456789abcdef",
"scope": "orders.read orders.write", "grant_types": ["client_credentials"]}, {"client_id":
"orders-viewer", "client_secret": "orders-viewer-secret-0123456789abc", "scope": "orders.read",
"grant_types": ["client_credentials"]}]`):

    DEMO_USERS='alice:alice-password:orders.read orders.write;bob:bob-password:orders.read' \
      OAUTH_CLIENTS_FILE=clients.json \
      OAUTH_RESOURCES=http://127.0.0.1:3100/mcp,https://reports.example/mcp \
      cargo run --example auth_server &
    JWT_JWKS_URL=http://127.0.0.1:4000/.well-known/jwks.json JWT_ALGORITHMS=ES256 \
      JWT_ISSUER=http://127.0.0.1:4000 cargo run --example mcp_server &
    python3 tests/python/mcp_oauth_client.py --mcp-url http://127.0.0.1:3100/mcp \
      --issuer http://127.0.0.1:4000 --user alice:alice-password \
      --reader bob:bob-password --client orders-bot:orders-bot-secret-0123456789abcdef \
      --read-client orders-viewer:orders-viewer-secret-0123456789abc --other-resource https://reports.example/mcp

Checks, each printed as `ok` or `FAIL` with the HTTP exchanges it saw; exits 1 if any failed:
  - the protected resource metadata at both well-known URLs, the authorization server's;
  - a request without a token: 401 naming the metadata;
  - the SDK's `OAuthClientProvider` discovers everything from that 401, registers itself,
    logs `--user` in through the HTML form (no browser: the redirect handler submits the
    form and reads `code` from the redirect), then lists and calls tools;
  - the SDK refreshes that login's expired access token with its (rotated) refresh token;
  - the SDK's `ClientCredentialsOAuthProvider` does the same for `--client`, without a user;
  - `--reader` (no `orders.write`) calling `orders_create`: 403 `insufficient_scope` with the
    tool's scope and the metadata URL, still refused after the SDK's step-up (the
    authorization server narrows the scope, never widens it); the same for `--read-client`;
  - a token for `--other-resource`: 401 `invalid_token` naming the metadata;
  - a session created by one subject, used with another subject's token: 404.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import jwt
from mcp import Client, MCPError
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

SCOPES = ["orders.read", "orders.write"]
TOOLS = {"whoami", "orders_list", "orders_create"}
# Where the authorization server sends the browser back to. Nothing listens there: the
# redirect handler reads the code from the redirect's Location instead of following it.
REDIRECT_URI = "http://127.0.0.1:1/callback"
# A protocol version rmcp speaks, for the requests this script writes by hand.
PROTOCOL_VERSION = "2025-06-18"
CHECK_SECONDS = 90


class CheckFailed(Exception):
    """A check's expectation was not met."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------------------------------
# What went over the wire, to show with a failure.


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    www_authenticate: str | None
    location: str | None

    def __str__(self) -> str:
        line = f"{self.method} {self.url} -> {self.status}"
        if self.www_authenticate:
            line += f"  WWW-Authenticate: {self.www_authenticate}"
        if self.location:
            line += f"  Location: {self.location}"
        return line


@dataclass
class Wire:
    """Every HTTP exchange of one check, through the event hooks of its clients."""

    exchanges: list[Exchange] = field(default_factory=list)

    async def _on_response(self, response: httpx2.Response) -> None:
        request = response.request
        self.exchanges.append(
            Exchange(
                request.method,
                str(request.url),
                response.status_code,
                response.headers.get("www-authenticate"),
                response.headers.get("location"),
            )
        )

    def client(self, **kwargs: Any) -> httpx2.AsyncClient:
        # The SDK's own timeouts: an SSE stream may stay quiet for a while.
        timeout = httpx2.Timeout(30.0, read=300.0)
        return httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [self._on_response]}, **kwargs)

    def expect_sequence(self, steps: list[tuple[str, str, set[int]]]) -> None:
        """The exchanges contain `steps` (method, URL without query, statuses) in this order."""
        position = 0
        for method, url, statuses in steps:
            while position < len(self.exchanges):
                seen = self.exchanges[position]
                position += 1
                if seen.method == method and seen.url.split("?")[0] == url and seen.status in statuses:
                    break
            else:
                raise CheckFailed(f"expected {method} {url} -> {sorted(statuses)} next, in this order: {steps}")

    def find(self, method: str, url: str, status: int) -> list[Exchange]:
        return [
            e for e in self.exchanges if e.method == method and e.url.split("?")[0] == url and e.status == status
        ]


# ---------------------------------------------------------------------------------------
# Pieces of OAuth the SDK leaves to the application.


class MemoryStorage:
    """The SDK's `TokenStorage` protocol, in memory."""

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


class LoginForm(HTMLParser):
    """The first form of a page: its action, method and inputs, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self.action: str | None = None
        self.method = "get"
        self.inputs: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.found:
            self.found = self._inside = True
            self.action = attributes.get("action")
            self.method = attributes.get("method", "get").lower()
        elif tag in ("input", "button") and self._inside and attributes.get("name"):
            self.inputs[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


class BrowserlessLogin:
    """The redirect and callback handlers of `OAuthClientProvider`: instead of a browser,
    GET the authorization URL, submit its login form as a browser would, and take `code`,
    `state` and `iss` from the redirect that answers it."""

    def __init__(self, wire: Wire, username: str, password: str) -> None:
        self.wire = wire
        self.username = username
        self.password = password
        self.rounds = 0
        self.requested_scopes: list[str | None] = []
        self._result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.rounds += 1
        self._result = None
        query = parse_qs(urlsplit(authorization_url).query)
        self.requested_scopes.append(query.get("scope", [None])[0])
        async with self.wire.client() as http:
            page = await http.get(authorization_url)
            expect(
                page.status_code == 200,
                f"GET {authorization_url}: {page.status_code}, expected 200 with a login form: {page.text[:500]}",
            )
            expect(
                page.headers.get("content-type", "").startswith("text/html"),
                f"the login page is {page.headers.get('content-type')!r}, expected text/html",
            )
            form = LoginForm()
            form.feed(page.text)
            expect(form.found, f"no <form> on the login page: {page.text[:500]}")
            expect(form.method == "post", f"the login form's method is {form.method!r}, expected post")
            for name in ("username", "password"):
                expect(name in form.inputs, f"the login form has no input named {name!r}: {sorted(form.inputs)}")
            fields = dict(form.inputs)
            fields.update(username=self.username, password=self.password)
            target = urljoin(authorization_url, form.action) if form.action else authorization_url
            answer = await http.post(target, data=fields)
            expect(
                answer.status_code in (302, 303),
                f"POST {target} (login as {self.username}): {answer.status_code}, "
                f"expected a 302/303 redirect to the client: {answer.text[:500]}",
            )
            location = answer.headers.get("location", "")
            expect(
                location.split("?")[0] == REDIRECT_URI,
                f"the login redirects to {location!r}, expected {REDIRECT_URI}?code=…",
            )
            params = parse_qs(urlsplit(location).query)
            expect("code" in params, f"no code in the redirect {location!r}")
            self._result = AuthorizationCodeResult(
                code=params["code"][0],
                state=params.get("state", [None])[0],
                iss=params.get("iss", [None])[0],
            )

    async def callback_handler(self) -> AuthorizationCodeResult:
        expect(self._result is not None, "the redirect handler got no authorization code")
        assert self._result is not None
        return self._result


def token_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, unverified: only to look at what the server issued."""
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def challenge_params(header: str | None) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer …` challenge (quoted or token values)."""
    expect(header is not None, "no WWW-Authenticate header")
    assert header is not None
    expect(header.startswith("Bearer"), f"challenge {header!r} is not a Bearer challenge")
    params = {}
    for match in re.finditer(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', header):
        value = match.group(2)
        params[match.group(1)] = re.sub(r"\\(.)", r"\1", value) if value is not None else match.group(3)
    return params


# ---------------------------------------------------------------------------------------
# MCP by hand, for what the SDK would not send: another subject's token on a session,
# a token for another audience.


def mcp_headers(token: str | None, session: str | None = None) -> dict[str, str]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session:
        headers["Mcp-Session-Id"] = session
    return headers


def request(id_: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return message


INITIALIZE = request(
    1,
    "initialize",
    {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "jwt-tower-e2e", "version": "1"},
    },
)


async def jsonrpc_replies(response: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response: a JSON body, or the events of an SSE stream."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return [response.json()]
    if content_type.startswith("text/event-stream"):
        return [json.loads(event.data) async for event in httpx2.EventSource(response) if event.data]
    return []


async def open_session(http: httpx2.AsyncClient, url: str, token: str) -> str:
    """Initializes a session with `token`, as an MCP client does; returns its id."""
    response = await http.post(url, headers=mcp_headers(token), json=INITIALIZE)
    expect(response.status_code == 200, f"initialize: {response.status_code} {response.text[:300]}")
    session = response.headers.get("mcp-session-id")
    expect(session is not None, "initialize answered without an Mcp-Session-Id")
    assert session is not None
    replies = await jsonrpc_replies(response)
    expect(any("result" in r for r in replies), f"initialize: no result in {replies}")
    notified = await http.post(
        url,
        headers=mcp_headers(token, session),
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
    )
    expect(notified.status_code == 202, f"notifications/initialized: {notified.status_code} {notified.text[:300]}")
    return session


# ---------------------------------------------------------------------------------------
# The checks.


@dataclass
class Config:
    mcp_url: str
    issuer: str
    user: tuple[str, str]
    reader: tuple[str, str]
    client: tuple[str, str]
    read_client: tuple[str, str]
    other_resource: str

    @property
    def metadata_url(self) -> str:
        parts = urlsplit(self.mcp_url)
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"

    @property
    def root_metadata_url(self) -> str:
        parts = urlsplit(self.mcp_url)
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource"


@dataclass
class Results:
    """What later checks reuse: the authorization server's metadata and issued tokens."""

    as_metadata: dict[str, Any] | None = None
    user_token: str | None = None
    reader_token: str | None = None
    user_login: tuple[OAuthClientProvider, MemoryStorage, BrowserlessLogin] | None = None


def needs(value: Any, what: str) -> Any:
    expect(value is not None, f"needs {what}, which an earlier check did not get")
    return value


async def check_metadata(config: Config, results: Results, wire: Wire) -> None:
    async with wire.client() as http:
        documents = []
        for url in (config.metadata_url, config.root_metadata_url):
            response = await http.get(url)
            expect(response.status_code == 200, f"GET {url}: {response.status_code}")
            expect(
                response.headers.get("content-type", "").startswith("application/json"),
                f"GET {url}: content-type {response.headers.get('content-type')!r}",
            )
            document = response.json()
            expect(document.get("resource") == config.mcp_url, f"{url}: resource {document.get('resource')!r}")
            expect(
                document.get("authorization_servers") == [config.issuer],
                f"{url}: authorization_servers {document.get('authorization_servers')!r}, expected [{config.issuer!r}]",
            )
            expect(document.get("scopes_supported") == SCOPES, f"{url}: scopes_supported {document.get('scopes_supported')!r}")
            expect(
                document.get("bearer_methods_supported") == ["header"],
                f"{url}: bearer_methods_supported {document.get('bearer_methods_supported')!r}",
            )
            documents.append(document)
        expect(documents[0] == documents[1], f"the two metadata documents differ: {documents}")

        url = f"{config.issuer}/.well-known/oauth-authorization-server"
        response = await http.get(url)
        expect(response.status_code == 200, f"GET {url}: {response.status_code}")
        metadata = response.json()
        expect(metadata.get("issuer") == config.issuer, f"{url}: issuer {metadata.get('issuer')!r}")
        for member in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "jwks_uri"):
            expect(isinstance(metadata.get(member), str), f"{url}: no {member}")
        expect(metadata.get("code_challenge_methods_supported") == ["S256"], f"{url}: {metadata}")
        expect(metadata.get("authorization_response_iss_parameter_supported") is True, f"{url}: {metadata}")
        grants = set(metadata.get("grant_types_supported", []))
        expect(
            {"authorization_code", "refresh_token", "client_credentials"} <= grants,
            f"{url}: grant_types_supported {sorted(grants)}",
        )
        results.as_metadata = metadata


async def check_no_token(config: Config, results: Results, wire: Wire) -> None:
    async with wire.client() as http:
        response = await http.post(config.mcp_url, headers=mcp_headers(None), json=INITIALIZE)
    expect(response.status_code == 401, f"initialize without a token: {response.status_code}, expected 401")
    params = challenge_params(response.headers.get("www-authenticate"))
    expect(
        params.get("resource_metadata") == config.metadata_url,
        f"resource_metadata {params.get('resource_metadata')!r}, expected {config.metadata_url!r}",
    )
    expect("error" not in params, f"a request without a token is not an error: {params}")


async def use_tools(client: Client) -> dict[str, Any]:
    """Lists the tools, calls `whoami` and `orders_list`; returns whoami's JSON."""
    listed = await client.list_tools()
    names = {tool.name for tool in listed.tools}
    expect(TOOLS <= names, f"tools/list: {sorted(names)}, expected {sorted(TOOLS)}")
    whoami = await client.call_tool("whoami", {})
    expect(not whoami.is_error, f"whoami failed: {whoami.content}")
    expect(
        len(whoami.content) == 1 and whoami.content[0].type == "text",
        f"whoami: {whoami.content}, expected one text",
    )
    identity = json.loads(whoami.content[0].text)
    orders = await client.call_tool("orders_list", {})
    expect(not orders.is_error, f"orders_list failed: {orders.content}")
    return identity


def scopes_of(identity: dict[str, Any]) -> set[str]:
    scope = identity.get("scope")
    expect(isinstance(scope, str), f"whoami's scope is {scope!r}, expected a space-separated string")
    return set(scope.split())


def oauth_client_provider(config: Config, storage: MemoryStorage, login: BrowserlessLogin) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=config.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="jwt-tower end-to-end test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=login.redirect_handler,
        callback_handler=login.callback_handler,
    )


def connect(config: Config, http: httpx2.AsyncClient, mode: str = "auto") -> Client:
    """An SDK client over streamable HTTP. `auto`, the SDK's default, probes `server/discover`
    and speaks the sessionless 2026 protocol when the server does; `legacy` runs the
    `initialize` handshake and holds an `Mcp-Session-Id` session, closed with DELETE."""
    return Client(streamable_http_client(config.mcp_url, http_client=http), mode=mode)


def expect_session(config: Config, wire: Wire, client_version: str) -> None:
    """The client ran the `initialize` handshake, held a session and closed it."""
    expect(client_version in HANDSHAKE_PROTOCOL_VERSIONS, f"negotiated {client_version}, expected a handshake-era version")
    closed = [e for e in wire.exchanges if e.method == "DELETE" and e.url == config.mcp_url]
    expect(closed and closed[-1].status in (200, 202, 204), f"the session was not closed: {closed}")


def check_issued_token(config: Config, token: str) -> dict[str, Any]:
    header, claims = token_claims(token)
    expect(header.get("typ") == "at+jwt", f"access token typ {header.get('typ')!r}")
    expect(claims.get("iss") == config.issuer, f"access token iss {claims.get('iss')!r}")
    audience = claims.get("aud")
    expect(
        audience == config.mcp_url or audience == [config.mcp_url],
        f"access token aud {audience!r}, expected the resource {config.mcp_url!r} (RFC 8707)",
    )
    return claims


async def check_authorization_code(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    username, password = config.user
    storage = MemoryStorage()
    login = BrowserlessLogin(wire, username, password)
    provider = oauth_client_provider(config, storage, login)
    async with wire.client(auth=provider) as http:
        async with connect(config, http) as client:
            identity = await use_tools(client)
            created = await client.call_tool("orders_create", {"item": "widget"})
            expect(not created.is_error, f"orders_create as {username}: {created.content}")
    wire.expect_sequence(
        [
            ("POST", config.mcp_url, {401}),
            ("GET", config.metadata_url, {200}),
            ("GET", f"{config.issuer}/.well-known/oauth-authorization-server", {200}),
            ("POST", metadata["registration_endpoint"], {200, 201}),
            ("GET", metadata["authorization_endpoint"], {200}),
            ("POST", metadata["authorization_endpoint"], {302, 303}),
            ("POST", metadata["token_endpoint"], {200}),
            ("POST", config.mcp_url, {200}),
        ]
    )
    expect(login.rounds == 1, f"{login.rounds} authorization rounds, expected 1")
    client_info = needs(storage.client_info, "a registered client")
    tokens = needs(storage.tokens, "tokens")
    expect(tokens.refresh_token is not None, "a public client got no refresh token with the code exchange")
    claims = check_issued_token(config, tokens.access_token)
    expect(claims.get("sub") == username, f"access token sub {claims.get('sub')!r}")
    expect(identity.get("sub") == username, f"whoami: {identity}, expected sub {username!r}")
    expect(identity.get("client_id") == client_info.client_id, f"whoami: {identity}, expected the registered client_id")
    expect(set(SCOPES) <= scopes_of(identity), f"whoami: {identity}, expected {SCOPES}")
    results.user_token = tokens.access_token
    results.user_login = (provider, storage, login)


async def check_refresh(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    provider, storage, login = needs(results.user_login, f"{config.user[0]}'s login")
    login.wire = wire
    before = needs(storage.tokens, "tokens")
    # As far as the SDK knows, the access token has expired: it refreshes before sending.
    provider.context.token_expiry_time = time.time() - 1
    async with wire.client(auth=provider) as http:
        async with connect(config, http) as client:
            identity = await use_tools(client)
    wire.expect_sequence([("POST", metadata["token_endpoint"], {200}), ("POST", config.mcp_url, {200})])
    expect(not wire.find("POST", config.mcp_url, 401), "a request was refused after the refresh")
    expect(login.rounds == 1, f"the refresh needed a new login ({login.rounds} rounds)")
    after = needs(storage.tokens, "tokens")
    expect(after.access_token != before.access_token, "the refresh gave the same access token")
    expect(
        after.refresh_token is not None and after.refresh_token != before.refresh_token,
        "the refresh token did not rotate",
    )
    check_issued_token(config, after.access_token)
    expect(identity.get("sub") == config.user[0], f"whoami after the refresh: {identity}")


async def check_client_credentials(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    client_id, secret = config.client
    storage = MemoryStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=config.mcp_url,
        storage=storage,
        client_id=client_id,
        client_secret=secret,
        issuer=config.issuer,
    )
    async with wire.client(auth=provider) as http:
        async with connect(config, http, mode="legacy") as client:
            identity = await use_tools(client)
            created = await client.call_tool("orders_create", {"item": "gadget"})
            expect(not created.is_error, f"orders_create as {client_id}: {created.content}")
            version = client.protocol_version
    expect_session(config, wire, version)
    wire.expect_sequence(
        [
            ("POST", config.mcp_url, {401}),
            ("GET", config.metadata_url, {200}),
            ("GET", f"{config.issuer}/.well-known/oauth-authorization-server", {200}),
            ("POST", metadata["token_endpoint"], {200}),
            ("POST", config.mcp_url, {200}),
        ]
    )
    for endpoint in ("registration_endpoint", "authorization_endpoint"):
        url = metadata[endpoint]
        expect(
            not any(e.url.split("?")[0] == url for e in wire.exchanges),
            f"the client-credentials flow went to {url}",
        )
    tokens = needs(storage.tokens, "tokens")
    check_issued_token(config, tokens.access_token)
    expect(identity.get("sub") == client_id, f"whoami: {identity}, expected sub {client_id!r}")
    expect(identity.get("client_id") == client_id, f"whoami: {identity}, expected client_id {client_id!r}")
    expect(set(SCOPES) <= scopes_of(identity), f"whoami: {identity}, expected {SCOPES}")


async def create_refused(client: Client, who: str) -> None:
    """`orders_create` fails for `who`, who lacks `orders.write`; prints how the SDK says so."""
    try:
        created = await client.call_tool("orders_create", {"item": "forbidden"})
        refused = created.is_error
        outcome = f"a result with is_error {created.is_error}: {created.content}"
    except MCPError as error:
        refused = True
        outcome = f"MCPError {error.code}: {error.message}"
    expect(refused, f"orders_create as {who} (orders.read only) succeeded: {outcome}")
    print(f"    the SDK surfaces the refusal as {outcome}")


def expect_scope_refusals(config: Config, wire: Wire, count: int) -> None:
    """`count` refusals of `orders_create`: 403 `insufficient_scope` naming the tool's scope."""
    refusals = wire.find("POST", config.mcp_url, 403)
    expect(
        len(refusals) == count,
        f"{len(refusals)} refusals of orders_create, expected {count} (before and after the step-up)",
    )
    for refusal in refusals:
        params = challenge_params(refusal.www_authenticate)
        expect(params.get("error") == "insufficient_scope", f"403 challenge {params}")
        expect("orders.write" in params.get("scope", "").split(), f"403 challenge {params}: no scope orders.write")
        expect(params.get("resource_metadata") == config.metadata_url, f"403 challenge {params}")


def expect_not_widened(token: str) -> None:
    _, claims = token_claims(token)
    expect(
        "orders.write" not in str(claims.get("scope", "")).split(),
        f"the step-up token carries {claims.get('scope')!r}: the scope was widened",
    )


async def check_insufficient_scope(config: Config, results: Results, wire: Wire) -> None:
    username, password = config.reader
    storage = MemoryStorage()
    login = BrowserlessLogin(wire, username, password)
    async with wire.client(auth=oauth_client_provider(config, storage, login)) as http:
        # On a session: the step-up's new token is for the same subject, so the session goes on.
        async with connect(config, http, mode="legacy") as client:
            identity = await use_tools(client)
            expect(
                scopes_of(identity) == {"orders.read"},
                f"whoami: {identity}: asked for {login.requested_scopes[0]!r}, expected it narrowed to orders.read",
            )
            results.reader_token = needs(storage.tokens, "tokens").access_token
            await create_refused(client, username)
            listed = await client.call_tool("orders_list", {})
            expect(not listed.is_error, f"orders_list after the step-up: {listed.content}")
            version = client.protocol_version
    expect_session(config, wire, version)
    # The SDK steps up once, asking for what it had plus the challenged scope; the
    # authorization server narrows the request to what the user may have, so the tool is
    # still refused.
    expect_scope_refusals(config, wire, 2)
    expect(login.rounds == 2, f"{login.rounds} authorization rounds, expected 2 (login, step-up)")
    expect(
        "orders.write" in (login.requested_scopes[1] or "").split(),
        f"the step-up asked for {login.requested_scopes[1]!r}",
    )
    expect_not_widened(needs(storage.tokens, "tokens").access_token)


async def check_client_insufficient_scope(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    client_id, secret = config.read_client
    storage = MemoryStorage()
    provider = ClientCredentialsOAuthProvider(
        server_url=config.mcp_url,
        storage=storage,
        client_id=client_id,
        client_secret=secret,
        issuer=config.issuer,
    )
    async with wire.client(auth=provider) as http:
        async with connect(config, http) as client:
            # The SDK asks for every scope the metadata lists: /token narrows it to the client's.
            identity = await use_tools(client)
            expect(scopes_of(identity) == {"orders.read"}, f"whoami: {identity}, expected orders.read only")
            await create_refused(client, client_id)
    expect_scope_refusals(config, wire, 2)
    exchanges = len(wire.find("POST", metadata["token_endpoint"], 200))
    expect(exchanges == 2, f"{exchanges} token requests, expected 2 (the first, the step-up)")
    expect_not_widened(needs(storage.tokens, "tokens").access_token)


async def check_other_audience(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    client_id, secret = config.client
    async with wire.client() as http:
        tokens = {}
        for resource in (config.other_resource, config.mcp_url):
            response = await http.post(
                metadata["token_endpoint"],
                auth=(client_id, secret),
                data={"grant_type": "client_credentials", "resource": resource, "scope": "orders.read"},
            )
            expect(response.status_code == 200, f"POST /token for {resource}: {response.status_code} {response.text}")
            tokens[resource] = response.json()["access_token"]
        _, claims = token_claims(tokens[config.other_resource])
        audience = claims.get("aud")
        expect(
            audience in (config.other_resource, [config.other_resource]),
            f"a token asked for {config.other_resource} has aud {audience!r}",
        )
        refused = await http.post(config.mcp_url, headers=mcp_headers(tokens[config.other_resource]), json=INITIALIZE)
        expect(refused.status_code == 401, f"initialize with a token for another audience: {refused.status_code}")
        params = challenge_params(refused.headers.get("www-authenticate"))
        expect(params.get("error") == "invalid_token", f"401 challenge {params}")
        expect(params.get("resource_metadata") == config.metadata_url, f"401 challenge {params}")
        # The same request with a token for this server is admitted.
        await open_session(http, config.mcp_url, tokens[config.mcp_url])


async def check_session_binding(config: Config, results: Results, wire: Wire) -> None:
    metadata = needs(results.as_metadata, "the authorization server metadata")
    other_subject = needs(results.user_token, f"{config.user[0]}'s token")
    client_id, secret = config.client
    async with wire.client() as http:
        response = await http.post(
            metadata["token_endpoint"],
            auth=(client_id, secret),
            data={"grant_type": "client_credentials", "resource": config.mcp_url, "scope": "orders.read"},
        )
        expect(response.status_code == 200, f"POST /token: {response.status_code} {response.text}")
        owner = response.json()["access_token"]
        session = await open_session(http, config.mcp_url, owner)

        async def list_tools(token: str, id_: int) -> httpx2.Response:
            return await http.post(config.mcp_url, headers=mcp_headers(token, session), json=request(id_, "tools/list"))

        mine = await list_tools(owner, 2)
        expect(mine.status_code == 200, f"tools/list by the session's owner: {mine.status_code} {mine.text[:300]}")
        replies = await jsonrpc_replies(mine)
        expect(any("result" in r for r in replies), f"tools/list by the session's owner: {replies}")
        theirs = await list_tools(other_subject, 3)
        expect(
            theirs.status_code == 404,
            f"tools/list on {client_id}'s session with {config.user[0]}'s token: {theirs.status_code}, expected 404",
        )
        still_mine = await list_tools(owner, 4)
        expect(still_mine.status_code == 200, f"the owner after the refusal: {still_mine.status_code}")


CHECKS = [
    ("protected resource and authorization server metadata", check_metadata),
    ("no token: 401 naming the metadata", check_no_token),
    ("authorization code with PKCE, dynamic registration (SDK)", check_authorization_code),
    ("refresh token, rotated (SDK)", check_refresh),
    ("client credentials, pre-registered client (SDK)", check_client_credentials),
    ("insufficient scope: 403, step-up narrowed (SDK)", check_insufficient_scope),
    ("insufficient scope, client credentials: 403, narrowed (SDK)", check_client_insufficient_scope),
    ("token for another audience: 401 invalid_token", check_other_audience),
    ("session used by another subject: 404", check_session_binding),
]


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside the exception groups of the SDK's task groups."""
    inner = getattr(error, "exceptions", None)  # an exception group
    if isinstance(inner, (list, tuple)):
        return [leaf for exception in inner for leaf in leaves(exception)]
    return [error]


def describe(error: BaseException, tracebacks: bool) -> str:
    """Why a check failed: its expectation, or each error with the line that raised it."""
    found = leaves(error)
    failed = [leaf for leaf in found if isinstance(leaf, CheckFailed)]
    if failed:
        return "; ".join(str(leaf) for leaf in failed)
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer within {CHECK_SECONDS} s"
    if tracebacks:
        return "".join(traceback.format_exception(error)).rstrip()
    lines = []
    for leaf in found:
        frames = traceback.extract_tb(leaf.__traceback__)
        ours = [frame for frame in frames if frame.filename == __file__]
        where = f" (at line {ours[-1].lineno}: {ours[-1].line})" if ours else ""
        lines.append("".join(traceback.format_exception_only(leaf)).strip() + where)
    return "; ".join(lines) + " (--traceback for the whole trace)"


async def run(config: Config, tracebacks: bool, verbose: bool) -> int:
    results = Results()
    failed = 0
    for name, check in CHECKS:
        wire = Wire()
        try:
            with_timeout = asyncio.wait_for(check(config, results, wire), CHECK_SECONDS)
            await with_timeout
            print(f"ok   {name}", flush=True)
            if verbose:
                for exchange in wire.exchanges:
                    print(f"       {exchange}", flush=True)
        except BaseException as error:  # noqa: BLE001 - every failure is reported, then the next check runs
            if isinstance(error, KeyboardInterrupt):
                raise
            failed += 1
            reason = describe(error, tracebacks)
            print(f"FAIL {name}: {reason}", flush=True)
            for exchange in wire.exchanges:
                print(f"       {exchange}", flush=True)
    print(f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed", flush=True)
    return 1 if failed else 0


def credentials(value: str) -> tuple[str, str]:
    name, sep, secret = value.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME:SECRET")
    return name, secret


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mcp-url", required=True, help="the MCP endpoint, e.g. http://127.0.0.1:3100/mcp")
    parser.add_argument("--issuer", required=True, help="the authorization server's issuer URL")
    parser.add_argument("--user", required=True, type=credentials, help="NAME:PASSWORD of a user with orders.read and orders.write")
    parser.add_argument("--reader", required=True, type=credentials, help="NAME:PASSWORD of a user with orders.read only")
    parser.add_argument(
        "--client", required=True, type=credentials, help="ID:SECRET of a confidential client with both scopes"
    )
    parser.add_argument(
        "--read-client", required=True, type=credentials, help="ID:SECRET of a confidential client with orders.read only"
    )
    parser.add_argument(
        "--other-resource", required=True, help="a resource the authorization server issues tokens for, not this server"
    )
    parser.add_argument("--traceback", action="store_true", help="show the whole trace of unexpected errors")
    parser.add_argument("--verbose", action="store_true", help="show the HTTP exchanges of every check")
    args = parser.parse_args()
    config = Config(
        mcp_url=args.mcp_url,
        issuer=args.issuer,
        user=args.user,
        reader=args.reader,
        client=args.client,
        read_client=args.read_client,
        other_resource=args.other_resource,
    )
    return asyncio.run(run(config, args.traceback, args.verbose))


if __name__ == "__main__":
    sys.exit(main())
