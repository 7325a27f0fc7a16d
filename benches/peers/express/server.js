// GET /me behind express-jwt, as its README sets it up: `expressjwt({ secret, algorithms,
// issuer, audience })` as middleware, the claims in `req.auth`. The same keys, issuer and
// audience as examples/load_target.rs, whose tokens the harness sends.
//
// Environment: LOAD_AUTH (HS256 or RS256; express-jwt's jsonwebtoken has no EdDSA) and
// BIND (default 127.0.0.1:0). On stdout: `listening on ADDR`, nothing else.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const express = require("express");
const { expressjwt } = require("express-jwt");

const KEYS = path.join(__dirname, "..", "..", "..", "jwt-tower", "tests", "keys");
const SECRETS = {
  HS256: () => "load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567",
  RS256: () => fs.readFileSync(path.join(KEYS, "rsa2048-public.pem"), "utf8"),
};

const alg = process.env.LOAD_AUTH;
if (!(alg in SECRETS)) {
  console.error(`configuration error: LOAD_AUTH: ${JSON.stringify(alg)} is not HS256 or RS256`);
  process.exit(2);
}
const bind = process.env.BIND || "127.0.0.1:0";
const at = bind.lastIndexOf(":");

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

const server = app.listen(Number(bind.slice(at + 1)), bind.slice(0, at), () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
// The harness stops a server with SIGINT; nothing to flush.
process.on("SIGINT", () => process.exit(0));
