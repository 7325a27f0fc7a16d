// An independent RFC 8693 token-exchange client, built on panva's oauth4webapi and jose,
// against auth_server. tests/token_exchange.rs starts the server, logs alice in for the
// subject token and runs this script; it exits non-zero, saying which check failed, at
// the first failure.
//
// usage: node exchange_client.mjs --issuer URL --subject TOKEN --client ID:SECRET
//          --audience AUD --other-client ID:SECRET --other-audience AUD

import { isDeepStrictEqual, parseArgs } from 'node:util'

import * as oauth from 'oauth4webapi'
import * as jose from 'jose'

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string' },
    subject: { type: 'string' },
    client: { type: 'string' },
    audience: { type: 'string' },
    'other-client': { type: 'string' },
    'other-audience': { type: 'string' },
  },
})

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
const insecure = { [oauth.allowInsecureRequests]: true }

function check(condition, what, detail = '') {
  if (!condition) {
    console.error(`FAILED: ${what}${detail ? `\n  ${detail}` : ''}`)
    process.exit(1)
  }
  console.log(`ok: ${what}`)
}

function client(pair) {
  const [id, secret] = pair.split(':')
  return { client: { client_id: id }, secret }
}

const gateway = client(args.client)
const other = client(args['other-client'])

const issuer = new URL(args.issuer)
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)
check(as.token_endpoint === `${args.issuer}/token`, 'discovery names the token endpoint')
check(
  as.grant_types_supported?.includes(EXCHANGE),
  'the metadata names the token-exchange grant',
  JSON.stringify(as.grant_types_supported),
)

const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri))

/** The exchange request's parameters; `extra` is a list of pairs (repeats allowed). */
function parameters(subject, extra) {
  return [
    ['subject_token', subject],
    ['subject_token_type', ACCESS_TOKEN],
    ...extra,
  ]
}

async function exchange(who, auth, subject, extra) {
  const response = await oauth.genericTokenEndpointRequest(
    as,
    who.client,
    auth,
    EXCHANGE,
    parameters(subject, extra),
    insecure,
  )
  return oauth.processGenericTokenEndpointResponse(as, who.client, response)
}

/** The error an exchange is refused with, as oauth4webapi surfaces it. */
async function refusal(who, auth, subject, extra) {
  try {
    await exchange(who, auth, subject, extra)
  } catch (error) {
    return error
  }
  return undefined
}

async function verify(token, audience) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: as.issuer,
    audience,
    typ: 'at+jwt',
  })
  return { payload, protectedHeader }
}

// --- a successful exchange, client_secret_basic ------------------------------------

const subjectClaims = jose.decodeJwt(args.subject)
const answer = await exchange(gateway, oauth.ClientSecretBasic(gateway.secret), args.subject, [
  ['audience', args.audience],
  ['scope', 'orders.read'],
])
check(typeof answer.access_token === 'string', 'an access token')
check(answer.token_type === 'bearer', 'token_type Bearer', answer.token_type)
check(answer.issued_token_type === ACCESS_TOKEN, 'issued_token_type', answer.issued_token_type)
check(answer.scope === 'orders.read', 'the narrowed scope', answer.scope)
check(answer.refresh_token === undefined, 'no refresh token')
check(
  typeof answer.expires_in === 'number' &&
    answer.expires_in > 0 &&
    answer.expires_in <= subjectClaims.exp - Math.floor(Date.now() / 1000) + 1,
  'expires_in within the subject token',
  String(answer.expires_in),
)

const { payload: exchanged } = await verify(answer.access_token, args.audience)
check(exchanged.sub === subjectClaims.sub, 'the same sub', exchanged.sub)
check(exchanged.aud === args.audience, 'the target aud', JSON.stringify(exchanged.aud))
check(exchanged.scope === 'orders.read', 'the scope claim', exchanged.scope)
check(
  isDeepStrictEqual(exchanged.act, { sub: gateway.client.client_id }),
  'act names the exchanging client',
  JSON.stringify(exchanged.act),
)
check(exchanged.client_id === gateway.client.client_id, 'client_id', exchanged.client_id)
check(exchanged.exp <= subjectClaims.exp, 'exp no later than the subject token', `${exchanged.exp}`)

// --- the exchanged token exchanged again, client_secret_post -----------------------

const second = await exchange(other, oauth.ClientSecretPost(other.secret), answer.access_token, [
  ['resource', args['other-audience']],
])
const { payload: nested } = await verify(second.access_token, args['other-audience'])
check(
  isDeepStrictEqual(nested.act, {
    sub: other.client.client_id,
    act: { sub: gateway.client.client_id },
  }),
  'act nests the earlier actor inside the current one',
  JSON.stringify(nested.act),
)
check(nested.sub === subjectClaims.sub && nested.exp <= exchanged.exp, 'sub kept, exp capped')
check(second.scope === 'orders.read', 'the scope of the token exchanged', second.scope)

// --- refusals -----------------------------------------------------------------------

const basic = oauth.ClientSecretBasic(gateway.secret)
const cases = [
  ['an unknown audience', args.subject, [['audience', 'https://elsewhere.example']], 'invalid_target'],
  [
    'two audiences',
    args.subject,
    [
      ['audience', args.audience],
      ['audience', args['other-audience']],
    ],
    'invalid_target',
  ],
  [
    'a served audience the client may not reach',
    args.subject,
    [['audience', args['other-audience']]],
    'unauthorized_client',
  ],
  [
    'more scope than the subject token had',
    args.subject,
    [
      ['audience', args.audience],
      ['scope', 'orders.read admin'],
    ],
    'invalid_scope',
  ],
  ['a subject token that is not one', 'not-a-token', [['audience', args.audience]], 'invalid_request'],
  ['no target', args.subject, [], 'invalid_request'],
]
for (const [what, subject, extra, code] of cases) {
  const error = await refusal(gateway, basic, subject, extra)
  check(
    error instanceof oauth.ResponseBodyError && error.error === code && error.status === 400,
    `${what}: ${code}`,
    `${error?.name}: ${error?.error ?? error?.message}`,
  )
}

const wrong = await refusal(gateway, oauth.ClientSecretBasic('wrong-secret-0123456789abcdefghij'), args.subject, [
  ['audience', args.audience],
])
check(
  wrong instanceof oauth.WWWAuthenticateChallengeError &&
    wrong.status === 401 &&
    wrong.cause[0]?.scheme === 'basic',
  'bad client credentials: 401 with a Basic challenge',
  `${wrong?.name}: ${wrong?.message}`,
)
const body = await wrong.response.json()
check(body.error === 'invalid_client', 'bad client credentials: invalid_client', JSON.stringify(body))
