//! The Lua scripts: each runs atomically inside Redis, so that two instances can never
//! interleave the read and the write of one refresh token.
//!
//! Key layout under the prefix `P` (on a cluster, the family, token and chain keys
//! start with `{P}` instead, and the revocation keys with `{Prev}:`: see `keys`):
//! - `P fam:<id>`: hash `family` (JSON), `last` (last use), `revoked` (0/1), `exp`
//!   (absolute end), `idle` (idle timeout). Expires `retain` seconds after the family
//!   can no longer be used (its absolute end, or its last use plus the idle timeout);
//!   every rotation pushes that back.
//! - `P tok:<hash>`: `c:<family id>` (current) or `s:<family id>` (spent). Expires
//!   `retain` seconds after its family's absolute end (the latest moment the family can
//!   be used), so that a spent token is recognized for as long as its family lives.
//! - `P chain:<id>`: list of the family's `tok:` keys, oldest first: the current one
//!   and the last [`SPENT_TOKENS_KEPT`](crate::store::SPENT_TOKENS_KEPT) spent ones;
//!   older ones are deleted as the family rotates, so a refresh loop does not grow
//!   Redis. Expires with the tokens.
//! - `P rev:tok`: sorted set of revoked `jti`s scored by their `exp` (the latest one
//!   wins); entries past their `exp` plus the writer's retention (at least the
//!   verifiers' leeway) are dropped on every write, and the key expires with the last.
//! - `P rev:sub`: hash `sub` -> `before` (the latest one wins); never expires.
//! - `P client:<id>`: a registered OAuth client (JSON); expires when unused for the
//!   client idle timeout, each look-up renewing it.
//! - `P code:<hash>`: an authorization code (JSON); expires with the code, and is deleted
//!   by the one request that takes it.
//! - `P spent:<hash>`: a redeemed code: the hash of the first refresh token it gave;
//!   expires with the code.
//! - `P at:<hash>`: an opaque access token's record (JSON); expires with the token, and
//!   is deleted (by the script that takes codes) when the token is revoked.
//!
//! Numbers handed back to Redis go through `string.format('%.0f')`: Lua numbers are
//! doubles, and Redis reads `1e+15` as an error, not an integer.

/// Shared helpers, prepended to the scripts that need them. `ARGV[1]` is the key prefix
/// and `ARGV[2]` the retention in seconds in every one of them.
const HELPERS: &str = r"
local prefix = ARGV[1]
local retain = tonumber(ARGV[2])
-- Beyond this, EXPIREAT would overflow in milliseconds: keep the key.
local FOREVER = 1e15
local function expire_at(key, t)
  t = t + retain
  if t < FOREVER then
    redis.call('EXPIREAT', key, string.format('%.0f', t))
  else
    redis.call('PERSIST', key)
  end
end
local function family_key(token)
  return prefix .. 'fam:' .. string.sub(token, 3)
end
local function chain_key(token)
  return prefix .. 'chain:' .. string.sub(token, 3)
end
";

/// `KEYS[1]`: the family; `KEYS[2]`: its first token; `KEYS[3]`: its chain.
/// `ARGV[3]`: family JSON, `ARGV[4]`: created_at, `ARGV[5]`: expires_at,
/// `ARGV[6]`: idle timeout, `ARGV[7]`: family id.
const CREATE: &str = r"
local created = tonumber(ARGV[4])
local exp = tonumber(ARGV[5])
local idle = tonumber(ARGV[6])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'family', ARGV[3], 'last', ARGV[4], 'revoked', '0',
  'exp', ARGV[5], 'idle', ARGV[6])
expire_at(KEYS[1], math.min(exp, created + idle))
redis.call('SET', KEYS[2], 'c:' .. ARGV[7])
expire_at(KEYS[2], exp)
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], KEYS[2])
expire_at(KEYS[3], exp)
return 1
";

/// `KEYS[1]`: the presented token; `KEYS[2]`: the next one. `ARGV[3]`: now,
/// `ARGV[4]`: how many spent tokens of a family to keep.
/// Returns `{'rotated'|'reused', family JSON}`, `{'unknown'}` or `{'expired'}`: the
/// same decisions, in the same order, as the in-memory store.
const ROTATE: &str = r"
local token = redis.call('GET', KEYS[1])
if not token then return {'unknown'} end
local fkey = family_key(token)
local f = redis.call('HMGET', fkey, 'family', 'last', 'revoked', 'exp', 'idle')
if not f[1] then return {'unknown'} end
if f[3] == '1' then return {'unknown'} end
if string.sub(token, 1, 2) == 's:' then
  redis.call('HSET', fkey, 'revoked', '1')
  return {'reused', f[1]}
end
local now = tonumber(ARGV[3])
local last = tonumber(f[2])
local exp = tonumber(f[4])
local idle = tonumber(f[5])
if not (now < exp and now < last + idle) then return {'expired'} end
redis.call('SET', KEYS[1], 's:' .. string.sub(token, 3), 'KEEPTTL')
redis.call('SET', KEYS[2], 'c:' .. string.sub(token, 3))
expire_at(KEYS[2], exp)
local chain = chain_key(token)
redis.call('RPUSH', chain, KEYS[2])
local kept = tonumber(ARGV[4]) + 1
while redis.call('LLEN', chain) > kept do
  redis.call('DEL', redis.call('LPOP', chain))
end
expire_at(chain, exp)
redis.call('HSET', fkey, 'last', ARGV[3])
expire_at(fkey, math.min(exp, now + idle))
return {'rotated', f[1]}
";

/// `KEYS[1]`: a token. `ARGV[3]`: now. Returns its family's JSON if the token is current
/// and the family neither revoked nor ended (as `ROTATE` decides), or nil; writes
/// nothing.
const CURRENT_FAMILY: &str = r"
local token = redis.call('GET', KEYS[1])
if not token or string.sub(token, 1, 2) ~= 'c:' then return false end
local f = redis.call('HMGET', family_key(token), 'family', 'revoked', 'last', 'exp', 'idle')
if not f[1] or f[2] == '1' then return false end
local now = tonumber(ARGV[3])
if not (now < tonumber(f[4]) and now < tonumber(f[3]) + tonumber(f[5])) then return false end
return f[1]
";

/// `KEYS[1]`: a token of the family. Returns the family JSON, or nil.
const REVOKE_FAMILY: &str = r"
local token = redis.call('GET', KEYS[1])
if not token then return false end
local fkey = family_key(token)
local family = redis.call('HGET', fkey, 'family')
if not family then return false end
redis.call('HSET', fkey, 'revoked', '1')
return family
";

/// `KEYS[1]`: `rev:tok`; `KEYS[2]`: `rev:sub`. `ARGV[2]` (the retention) is how long
/// past its `exp` a token revocation is kept. `ARGV[3]`: now, `ARGV[4]`: the channel;
/// then four arguments per revocation: `token` or `subject`, the `jti` or `sub`, `exp`
/// or `before`, and the message (the revocation as JSON).
/// Each revocation is written only if Redis lacks it or holds a smaller value (the later
/// `exp` or `before` wins, so revocations only grow), and then published, in one step: a
/// follower that subscribed before this ran gets the message; one that subscribes after
/// reads the write in its resync. Returns how many were written. Used both to revoke and
/// to give back to Redis what it lost.
const REVOKE: &str = r"
local now = tonumber(ARGV[3])
local written = 0
local tokens = false
for i = 5, #ARGV, 4 do
  local kind, id, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current
  if kind == 'token' then
    tokens = true
    current = tonumber(redis.call('ZSCORE', KEYS[1], id) or '')
  else
    current = tonumber(redis.call('HGET', KEYS[2], id) or '')
  end
  if not current or current < tonumber(value) then
    if kind == 'token' then
      redis.call('ZADD', KEYS[1], value, id)
    else
      redis.call('HSET', KEYS[2], id, value)
    end
    redis.call('PUBLISH', ARGV[4], ARGV[i + 3])
    written = written + 1
  end
end
if tokens then
  -- Forget what no verifier accepts any more: `exp` plus the retention has passed.
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - retain))
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then
    -- the whole set ends with its latest exp, plus the retention
    expire_at(KEYS[1], tonumber(last[2]) + 1)
  end
end
return written
";

/// `KEYS[1]`: a code. Returns it and deletes it, in one step (`GETDEL` needs Redis 6.2;
/// this works on 6.0): of two requests presenting one code, exactly one gets it.
const TAKE: &str = r"
local code = redis.call('GET', KEYS[1])
if code then redis.call('DEL', KEYS[1]) end
return code
";

/// `KEYS[1]`: a client. `ARGV[1]`: its idle timeout in seconds. Returns it and renews
/// its expiry, in one step.
const CLIENT: &str = r"
local client = redis.call('GET', KEYS[1])
if client then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return client
";

/// `KEYS[1]`: a secret's key; `ARGV[1]`: the candidate. Keeps the first value ever set
/// and returns it, in one step (`SET … NX GET` needs Redis 7; this works on 6.0).
const SECRET: &str = r"
local kept = redis.call('GET', KEYS[1])
if kept then return kept end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// A script and its SHA-1, computed once.
pub(super) struct Lua {
    code: String,
    hash: String,
}

impl Lua {
    fn new(code: String) -> Self {
        let hash = ::redis::Script::new(&code).get_hash().to_owned();
        Self { code, hash }
    }

    /// A call of this script, to fill with keys and arguments.
    pub(super) fn prepare_invoke(&self) -> Call<'_> {
        Call {
            lua: self,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// One call of a script: sent by `EVALSHA`, and by `EVAL` when the node does not know the
/// script (a restarted node, a new cluster node), which also caches it there. Unlike
/// `SCRIPT LOAD`, which a cluster connection sends to every primary (and which fails
/// while one of them is down), `EVAL` goes only to the node owning the keys.
pub(super) struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    pub(super) fn key(&mut self, key: impl ::redis::ToRedisArgs) -> &mut Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    pub(super) fn arg(&mut self, arg: impl ::redis::ToRedisArgs) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    fn command(&self, name: &str, script: &str) -> ::redis::Cmd {
        let mut command = ::redis::cmd(name);
        command.arg(script).arg(self.keys.len());
        for key in &self.keys {
            command.arg(key.as_slice());
        }
        for arg in &self.args {
            command.arg(arg.as_slice());
        }
        command
    }

    pub(super) async fn invoke_async<T: ::redis::FromRedisValue>(
        &self,
        conn: &mut impl ::redis::aio::ConnectionLike,
    ) -> ::redis::RedisResult<T> {
        match self
            .command("EVALSHA", &self.lua.hash)
            .query_async(conn)
            .await
        {
            Err(e)
                if e.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) =>
            {
                self.command("EVAL", &self.lua.code).query_async(conn).await
            }
            other => other,
        }
    }
}

/// The scripts, each one's SHA-1 computed once.
pub(super) struct Scripts {
    pub(super) create: Lua,
    pub(super) rotate: Lua,
    pub(super) current_family: Lua,
    pub(super) revoke_family: Lua,
    pub(super) revoke: Lua,
    pub(super) take: Lua,
    pub(super) client: Lua,
    pub(super) secret: Lua,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_helpers = |body: &str| Lua::new(format!("{HELPERS}{body}"));
        Self {
            create: with_helpers(CREATE),
            rotate: with_helpers(ROTATE),
            current_family: with_helpers(CURRENT_FAMILY),
            revoke_family: with_helpers(REVOKE_FAMILY),
            revoke: with_helpers(REVOKE),
            take: Lua::new(TAKE.to_owned()),
            client: Lua::new(CLIENT.to_owned()),
            secret: Lua::new(SECRET.to_owned()),
        }
    }
}
