// An independent DPoP client (RFC 9449), built on panva's oauth4webapi, dpop and jose,
// against auth_server and two resource_server instances that share one Redis and one
// public URL, as behind a load balancer. tests/dpop_node.rs starts the servers and runs
// this script; it exits non-zero, saying which check failed, at the first failure.
//
// The load balancer is this script's own: it listens on --lb (the resource servers'
// JWT_PUBLIC_URL) and forwards each request to the instance named by its `x-backend`
// header, so a check can send one proof to both instances on purpose.
//
// usage: node dpop_client.mjs --issuer URL --lb HOST:PORT --backend a=HOST:PORT
//          --backend b=HOST:PORT --backend nonce=HOST:PORT --client ID:SECRET
//          [--token-nonce]

import http from 'node:http'
import { parseArgs } from 'node:util'

import * as oauth from 'oauth4webapi'
import * as dpop from 'dpop'
import * as jose from 'jose'

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    lb: { type: 'string' },
    backend: { type: 'string', multiple: true },
    client: { type: 'string' },
    'token-nonce': { type: 'boolean', default: false },
  },
})

const backends = Object.fromEntries(args.backend.map((b) => b.split('=')))
const [clientId, clientSecret] = args.client.split(':')
const publicUrl = `http://${args.lb}`
const resource = `${publicUrl}/me`

function check(condition, what, detail = '') {
  if (!condition) {
    console.error(`FAILED: ${what}${detail ? `\n  ${detail}` : ''}`)
    process.exit(1)
  }
  console.log(`ok: ${what}`)
}

// --- the load balancer -------------------------------------------------------------

function startLoadBalancer() {
  const server = http.createServer((req, res) => {
    const target = backends[req.headers['x-backend']]
    if (!target) {
      res.writeHead(502).end('no such backend')
      return
    }
    const [host, port] = target.split(':')
    // Forwarded as received: the raw header list keeps repeated headers repeated.
    const headers = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() !== 'host') {
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]])
      }
    }
    const upstream = http.request({ host, port, method: req.method, path: req.url })
    for (const [name, value] of headers) {
      const previous = upstream.getHeader(name)
      upstream.setHeader(name, previous === undefined ? value : [].concat(previous, value))
    }
    upstream.setHeader('host', target)
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode, answer.rawHeaders)
      answer.pipe(res)
    })
    upstream.on('error', (e) => res.writeHead(502).end(String(e)))
    req.pipe(upstream)
  })
  const [host, port] = args.lb.split(':')
  return new Promise((resolve) => server.listen(Number(port), host, () => resolve(server)))
}

// --- helpers -----------------------------------------------------------------------

const insecure = { [oauth.allowInsecureRequests]: true }

/** A raw GET of /me through the load balancer to `backend`. */
async function get(backend, headers) {
  const response = await fetch(resource, { headers: { 'x-backend': backend, ...headers } })
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate') ?? '',
    nonce: response.headers.get('dpop-nonce'),
    body: await response.text(),
  }
}

/** A raw GET with the `DPoP` header sent once per proof (two proofs: two header lines). */
function getWithProofs(backend, token, proofs) {
  return new Promise((resolve, reject) => {
    const request = http.request(resource, { method: 'GET' })
    request.setHeader('x-backend', backend)
    request.setHeader('authorization', `DPoP ${token}`)
    request.setHeader('dpop', proofs)
    request.on('response', (response) => {
      response.resume()
      response.on('end', () =>
        resolve({ status: response.statusCode, challenge: response.headers['www-authenticate'] ?? '' }),
      )
    })
    request.on('error', reject)
    request.end()
  })
}

function dpopError(reply) {
  const scheme = /(?:^|,\s*)DPoP\s([^]*)$/.exec(reply.challenge)
  return scheme ? /error="([^"]*)"/.exec(scheme[1])?.[1] : undefined
}

function expectProofRefused(reply, what, error = 'invalid_dpop_proof') {
  check(
    reply.status === 401 && dpopError(reply) === error,
    what,
    `status ${reply.status}, WWW-Authenticate: ${reply.challenge}`,
  )
}

/** A proof signed by `keyPair` with claims set by hand (dpop sets `iat` itself). */
async function handMadeProof(keyPair, claims) {
  const jwk = await jose.exportJWK(keyPair.publicKey)
  return new jose.SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(keyPair.privateKey)
}

async function ath(token) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return jose.base64url.encode(new Uint8Array(digest))
}

function claimsOf(token) {
  return jose.decodeJwt(token)
}

// --- the checks --------------------------------------------------------------------

const lb = await startLoadBalancer()
try {
  const issuer = new URL(args.issuer)
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
  )
  const client = { client_id: clientId }
  const clientAuth = oauth.ClientSecretBasic(clientSecret)
  const keyPair = await oauth.generateKeyPair('ES256')
  const handle = oauth.DPoP(client, keyPair)
  const thumbprint = await dpop.calculateThumbprint(keyPair.publicKey)

  // A DPoP-bound token from /token, through the nonce dance when the server asks for one.
  if (args['token-nonce']) {
    const proof = await dpop.generateProof(keyPair, as.token_endpoint, 'POST')
    const first = await fetch(as.token_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`,
        'content-type': 'application/x-www-form-urlencoded',
        dpop: proof,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource }),
    })
    const body = await first.json()
    check(
      first.status === 400 && body.error === 'use_dpop_nonce' && first.headers.get('dpop-nonce'),
      '/token without a nonce: 400 use_dpop_nonce with a DPoP-Nonce header',
      `status ${first.status}, body ${JSON.stringify(body)}`,
    )
  }
  const grant = () =>
    oauth.clientCredentialsGrantRequest(as, client, clientAuth, { resource }, { DPoP: handle, ...insecure })
  let tokenResponse
  try {
    tokenResponse = await oauth.processClientCredentialsResponse(as, client, await grant())
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e
    tokenResponse = await oauth.processClientCredentialsResponse(as, client, await grant())
  }
  const token = tokenResponse.access_token
  check(tokenResponse.token_type.toLowerCase() === 'dpop', `/token answers token_type DPoP`)
  check(claimsOf(token).cnf?.jkt === thumbprint, `the token's cnf.jkt is the proof key's RFC 7638 thumbprint`)

  // Accepted on both instances, each request with a fresh proof.
  for (const backend of ['a', 'b']) {
    const response = await oauth.protectedResourceRequest(
      token,
      'GET',
      new URL(resource),
      new Headers({ 'x-backend': backend }),
      undefined,
      { DPoP: handle, ...insecure },
    )
    const body = await response.json()
    check(response.status === 200 && body.sub === clientId, `instance ${backend} accepts the token with a fresh proof`)
  }

  // A proof used once is refused everywhere: on the other instance, and on the same one.
  const once = await dpop.generateProof(keyPair, resource, 'GET', undefined, token)
  const bound = { authorization: `DPoP ${token}` }
  check((await get('a', { ...bound, dpop: once })).status === 200, 'a fresh proof passes instance a')
  expectProofRefused(await get('b', { ...bound, dpop: once }), 'the same proof replayed on instance b is refused')
  expectProofRefused(await get('a', { ...bound, dpop: once }), 'the same proof replayed on instance a is refused')

  // Each broken proof is refused.
  const otherKey = await oauth.generateKeyPair('ES256')
  const proof = (overrides = {}) =>
    dpop.generateProof(
      overrides.key ?? keyPair,
      overrides.htu ?? resource,
      overrides.htm ?? 'GET',
      undefined,
      overrides.token ?? token,
    )
  expectProofRefused(await get('a', { ...bound, dpop: await proof({ key: otherKey }) }), 'a proof by another key')
  expectProofRefused(await get('a', { ...bound, dpop: await proof({ htm: 'POST' }) }), 'a proof for another method')
  expectProofRefused(
    await get('a', { ...bound, dpop: await proof({ htu: 'http://elsewhere.example/me' }) }),
    'a proof for another URL',
  )
  expectProofRefused(
    await get('a', { ...bound, dpop: await proof({ htu: `http://${backends.a}/me` }) }),
    "a proof for the instance's own address rather than the public URL",
  )
  expectProofRefused(await get('a', { ...bound, dpop: await proof({ token: 'another-token' }) }), 'a proof for another token (ath)')
  const tokenHash = await ath(token)
  const now = Math.floor(Date.now() / 1000)
  expectProofRefused(
    await get('a', { ...bound, dpop: await handMadeProof(keyPair, { htm: 'GET', htu: resource, iat: now - 600, ath: tokenHash }) }),
    'a proof issued ten minutes ago',
  )
  expectProofRefused(
    await get('a', { ...bound, dpop: await handMadeProof(keyPair, { htm: 'GET', htu: resource, iat: now + 600, ath: tokenHash }) }),
    'a proof issued ten minutes from now',
  )
  check(
    (await get('a', { ...bound, dpop: await handMadeProof(keyPair, { htm: 'GET', htu: resource, iat: now, ath: tokenHash }) }))
      .status === 200,
    'a hand-made proof with every claim right passes (the refusals above are for their one fault)',
  )
  expectProofRefused(await get('a', bound), 'a DPoP token without a proof')
  const two = await getWithProofs('a', token, [await proof(), await proof()])
  check(
    two.status === 400 && /error="invalid_request"/.test(two.challenge),
    'two DPoP proof headers: 400 invalid_request',
    `status ${two.status}, WWW-Authenticate: ${two.challenge}`,
  )

  // A bound token is not a bearer token, and required mode takes no bearer token at all.
  const asBearer = await get('a', { authorization: `Bearer ${token}` })
  check(
    asBearer.status === 401 && /DPoP /.test(asBearer.challenge),
    'the DPoP-bound token presented as Bearer is refused',
    asBearer.challenge,
  )
  const bearerResponse = await oauth.processClientCredentialsResponse(
    as,
    client,
    await oauth.clientCredentialsGrantRequest(as, client, clientAuth, { resource }, insecure),
  )
  check(bearerResponse.token_type.toLowerCase() === 'bearer', '/token without a proof issues a Bearer token')
  const plain = await get('a', { authorization: `Bearer ${bearerResponse.access_token}` })
  check(plain.status === 401 && /DPoP /.test(plain.challenge), 'a plain Bearer token is refused where DPoP is required', plain.challenge)

  // The nonce dance with a resource server that requires nonces.
  const noNonce = await get('nonce', { ...bound, dpop: await proof() })
  expectProofRefused(noNonce, 'a proof without a nonce where nonces are required', 'use_dpop_nonce')
  check(Boolean(noNonce.nonce), 'the use_dpop_nonce refusal carries a DPoP-Nonce header')
  const withNonce = await dpop.generateProof(keyPair, resource, 'GET', noNonce.nonce, token)
  check((await get('nonce', { ...bound, dpop: withNonce })).status === 200, 'the proof with the server nonce passes')
  const madeUp = await dpop.generateProof(keyPair, resource, 'GET', 'made-up-nonce', token)
  expectProofRefused(await get('nonce', { ...bound, dpop: madeUp }), 'a made-up nonce is refused', 'use_dpop_nonce')
  const nonceHandle = oauth.DPoP(client, keyPair)
  const call = () =>
    oauth.protectedResourceRequest(token, 'GET', new URL(resource), new Headers({ 'x-backend': 'nonce' }), undefined, {
      DPoP: nonceHandle,
      ...insecure,
    })
  let response
  try {
    response = await call()
  } catch (e) {
    check(oauth.isDPoPNonceError(e), 'oauth4webapi reads the first refusal as a nonce request', String(e))
    response = await call()
  }
  check(response.status === 200, "oauth4webapi's own nonce retry passes")

  console.log('all DPoP checks passed')
} finally {
  lb.close()
}
