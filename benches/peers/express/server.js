// GET /me behind express-jwt, as its README sets it up: `expressjwt({ secret, algorithms,
// issuer, audience })` as middleware, the claims in `req.auth`. The same keys, issuer,
// audience and leeway as jwt-tower's rows; the harness sends a token that
// benches/load/load_target.rs mints with them.
//
// The key is made a KeyObject once, at start-up (express-jwt takes one as `secret`):
// given a string, jsonwebtoken would parse it into one on every request, and for HS256
// first try it as a PEM public key and catch the failure. And NODE_ENV is `production`,
// as Express's performance guide asks. The fastest Express we could set up is the fair
// comparison.
//
// Environment: LOAD_AUTH (HS256 or RS256; express-jwt's jsonwebtoken has no EdDSA) and
// BIND (default 127.0.0.1:0). On stdout, once listening: `listening on ADDR`, nothing else.
"use strict";

process.env.NODE_ENV = "production";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const express = require("express");
const { expressjwt } = require("express-jwt");

const KEYS = path.join(__dirname, "..", "..", "..", "jwt-tower", "tests", "keys");
const SECRETS = {
  HS256: () =>
    crypto.createSecretKey(
      Buffer.from("load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567"),
    ),
  RS256: () => crypto.createPublicKey(fs.readFileSync(path.join(KEYS, "rsa2048-public.pem"))),
};

const alg = process.env.LOAD_AUTH;
if (!Object.hasOwn(SECRETS, alg)) {
  console.error(`configuration error: LOAD_AUTH: ${JSON.stringify(alg)} is not HS256 or RS256`);
  process.exit(2);
}
// `host:port`, `[v6]:port` too: read as a URL's authority.
const bind = new URL(`http://${process.env.BIND || "127.0.0.1:0"}`);

const app = express();
app.disable("x-powered-by");
app.use(
  expressjwt({
    secret: SECRETS[alg](),
    algorithms: [alg],
    issuer: "https://auth.load.test",
    audience: "load-api",
    clockTolerance: 30,
  }),
);
app.get("/me", (req, res) => res.type("text").send(req.auth.sub));
app.use((err, req, res, next) => {
  if (err.name === "UnauthorizedError") return res.status(401).end();
  return next(err);
});

const server = app.listen(Number(bind.port || 0), bind.hostname.replace(/^\[|\]$/g, ""), () => {
  const { address, family, port } = server.address();
  console.log(`listening on ${family === "IPv6" ? `[${address}]` : address}:${port}`);
});
// The harness stops a server with SIGINT; nothing to flush.
process.on("SIGINT", () => process.exit(0));
