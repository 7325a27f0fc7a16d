// An independent client of RFC 7662 introspection and RFC 7009 revocation, built on
// panva's oauth4webapi (with dpop and jose), against auth_server. tests/oauth_lifecycle.rs
// starts the server (once per ACCESS_TOKEN_FORMAT) and runs this script; it exits
// non-zero, saying which check failed, at the first failure.
//
// usage: node introspect_client.mjs --issuer URL --format jwt|opaque
//          --introspector ID:SECRET --service ID:SECRET --other ID:SECRET --public ID
//          --user NAME:PASSWORD

import { parseArgs } from 'node:util'

import * as oauth from 'oauth4webapi'
import * as dpop from 'dpop'
import * as jose from 'jose'

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    format: { type: 'string' },
    introspector: { type: 'string' },
    service: { type: 'string' },
    other: { type: 'string' },
    public: { type: 'string' },
    user: { type: 'string' },
  },
})

function check(condition, what, detail = '') {
  if (!condition) {
    console.error(`FAILED [${args.format}]: ${what}${detail ? `\n  ${detail}` : ''}`)
    process.exit(1)
  }
  console.log(`ok [${args.format}]: ${what}`)
}

const insecure = { [oauth.allowInsecureRequests]: true }
const credentials = (pair) => {
  const [id, secret] = pair.split(':')
  return { client: { client_id: id }, auth: oauth.ClientSecretBasic(secret) }
}
const introspector = credentials(args.introspector)
const service = credentials(args.service)
const other = credentials(args.other)
const [username, password] = args.user.split(':')

const issuer = new URL(args.issuer)
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)
check(as.introspection_endpoint === `${args.issuer}/introspect`, 'discovery names the introspection endpoint')
check(as.revocation_endpoint === `${args.issuer}/revoke`, 'discovery names the revocation endpoint')

async function introspect(token, hint, who = introspector) {
  const options = { ...insecure }
  if (hint) options.additionalParameters = { token_type_hint: hint }
  const response = await oauth.introspectionRequest(as, who.client, who.auth, token, options)
  check(response.headers.get('cache-control') === 'no-store', 'an introspection answer is not cached')
  return oauth.processIntrospectionResponse(as, who.client, response)
}

async function revoke(token, who, hint) {
  const options = { ...insecure }
  if (hint) options.additionalParameters = { token_type_hint: hint }
  const response = await oauth.revocationRequest(as, who.client, who.auth, token, options)
  return oauth.processRevocationResponse(response)
}

async function expectInactive(token, what) {
  for (const hint of [undefined, 'access_token', 'refresh_token']) {
    const answer = await introspect(token, hint)
    check(
      JSON.stringify(answer) === '{"active":false}',
      `${what}: exactly {"active":false} (hint ${hint})`,
      JSON.stringify(answer),
    )
  }
}

function checkFormat(token, what) {
  if (args.format === 'opaque') {
    check(token.length === 43 && !token.includes('.'), `${what} is opaque: 256 bits, base64url`)
  } else {
    check(jose.decodeJwt(token).iss === args.issuer, `${what} is a JWT`)
  }
}

/** Every member of an active access token's answer. */
function checkActiveAccess(answer, token, expected, what) {
  check(answer.active === true, `${what}: active`, JSON.stringify(answer))
  check(answer.iss === args.issuer, `${what}: iss`)
  for (const [name, value] of Object.entries(expected)) {
    if (value === undefined) {
      check(!(name in answer), `${what}: no ${name}`, JSON.stringify(answer))
    } else {
      check(JSON.stringify(answer[name]) === JSON.stringify(value), `${what}: ${name}`, JSON.stringify(answer))
    }
  }
  const now = Math.floor(Date.now() / 1000)
  check(Math.abs(now - answer.iat) <= 5 && answer.exp - answer.iat === 900, `${what}: iat now, exp 900 s later`)
  check(typeof answer.jti === 'string' && answer.jti.length > 0, `${what}: jti`)
  if (args.format === 'jwt') {
    const claims = jose.decodeJwt(token)
    for (const name of ['sub', 'aud', 'exp', 'iat', 'jti', 'scope', 'client_id']) {
      check(JSON.stringify(claims[name]) === JSON.stringify(answer[name]), `${what}: ${name} is the JWT's`)
    }
  }
}

async function serviceToken(who, dpopHandle) {
  const request = () =>
    oauth.clientCredentialsGrantRequest(as, who.client, who.auth, {}, { ...insecure, DPoP: dpopHandle })
  return oauth.processClientCredentialsResponse(as, who.client, await request())
}

async function login() {
  const response = await fetch(`${args.issuer}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  check(response.status === 200, '/login answers 200')
  return response.json()
}

// --- active tokens -------------------------------------------------------------------

const serviceId = service.client.client_id
const issued = await serviceToken(service)
checkFormat(issued.access_token, 'a client-credentials token')
checkActiveAccess(
  await introspect(issued.access_token),
  issued.access_token,
  { sub: serviceId, client_id: serviceId, scope: 'orders.read', aud: 'api', token_type: 'Bearer', cnf: undefined },
  'a client-credentials token',
)

const keyPair = await oauth.generateKeyPair('ES256')
const bound = await serviceToken(service, oauth.DPoP(service.client, keyPair))
check(bound.token_type.toLowerCase() === 'dpop', '/token answers token_type DPoP for a proof')
checkActiveAccess(
  await introspect(bound.access_token, 'access_token'),
  bound.access_token,
  { sub: serviceId, token_type: 'DPoP', cnf: { jkt: await dpop.calculateThumbprint(keyPair.publicKey) } },
  'a DPoP-bound token',
)

const session = await login()
checkFormat(session.access_token, "a login's access token")
checkActiveAccess(
  await introspect(session.access_token, 'refresh_token'),
  session.access_token,
  { sub: username, client_id: undefined, aud: 'api', token_type: 'Bearer' },
  "a login's access token (a wrong hint)",
)
// A refresh token is described to the client it was issued to alone; a login's was
// issued to none.
await expectInactive(session.refresh_token, "a login's refresh token (issued to no client)")

// --- inactive tokens -----------------------------------------------------------------

await expectInactive(jose.base64url.encode(crypto.getRandomValues(new Uint8Array(32))), 'an unknown token')
const foreignKey = await jose.generateKeyPair('ES256')
const foreign = await new jose.SignJWT({ scope: 'orders.read' })
  .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'foreign' })
  .setIssuer(args.issuer)
  .setAudience('api')
  .setSubject(username)
  .setIssuedAt()
  .setExpirationTime('10m')
  .setJti('foreign')
  .sign(foreignKey.privateKey)
await expectInactive(foreign, 'a JWT signed by another key')

// --- client authentication -----------------------------------------------------------

for (const [who, what] of [
  [{ client: introspector.client, auth: oauth.ClientSecretBasic('wrong') }, 'a wrong secret'],
  [{ client: { client_id: args.public }, auth: oauth.None() }, 'a public client'],
]) {
  try {
    await introspect(issued.access_token, undefined, who)
    check(false, `introspection by ${what} is refused`)
  } catch (e) {
    const status = e.status ?? e.response?.status
    check(status === 401, `introspection by ${what} is refused with 401`, String(e))
  }
}

// --- revocation ----------------------------------------------------------------------

try {
  await revoke(issued.access_token, other)
  check(false, "another client's revocation is refused")
} catch (e) {
  check(e.error === 'unauthorized_client', "another client's revocation is refused: unauthorized_client", String(e))
}
check((await introspect(issued.access_token)).active === true, "another client's revocation revoked nothing")

check((await revoke(issued.access_token, service, 'access_token')) === undefined, 'its client revokes an access token')
await expectInactive(issued.access_token, 'a revoked access token')
check((await revoke(bound.access_token, service, 'refresh_token')) === undefined, 'a wrong hint still revokes')
await expectInactive(bound.access_token, 'a revoked DPoP-bound token')

const publicClient = { client: { client_id: args.public }, auth: oauth.None() }
check((await revoke(session.access_token, publicClient)) === undefined, "a public client revokes a login's access token")
await expectInactive(session.access_token, "a revoked login's access token")
check((await revoke(session.refresh_token, introspector, 'refresh_token')) === undefined, 'a refresh token is revoked')
await expectInactive(session.refresh_token, 'a revoked refresh token')
const refreshed = await fetch(`${args.issuer}/refresh`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ refresh_token: session.refresh_token }),
})
check(refreshed.status === 401, 'a revoked refresh token no longer refreshes')
check((await revoke('no-such-token', service)) === undefined, 'an unknown token: 200')

console.log(`all introspection and revocation checks passed (${args.format})`)
