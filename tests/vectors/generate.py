#!/usr/bin/env python3
"""Tokens signed by an independent JWT implementation, for `tests/attacks.rs`.

PyJWT (on the `cryptography` package) signs a fixed set of claims with fixed keys, one
token per algorithm jwt-tower verifies, plus tokens that are wrong on purpose (each with
the refusal jwt-tower must answer and why). The output, `tests/vectors/pyjwt.json`, is
committed: the Rust tests read it with `include_str!` and need no Python.

Keys: the test keys in `jwt-tower/tests/keys/` (RSA 2048, P-256, P-384, Ed25519, and the
second RSA key as the attacker's), the HMAC secret below, and `tests/vectors/p521-private.pem`
(P-521, for ES512, which jwt-tower does not support: created by this script if missing).
All are test-only keys, published here, protecting nothing.

Regenerate, from the repository root:

    python3 -m pip install pyjwt cryptography
    python3 tests/vectors/generate.py
    cargo test --test attacks

ECDSA and RSA-PSS signatures are randomized, so their tokens change on every run; the
others (HMAC, RSA PKCS#1 v1.5, Ed25519) come out the same.
"""

import base64
import hashlib
import hmac
import json
import pathlib

import cryptography
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEYS = ROOT / "jwt-tower" / "tests" / "keys"
HERE = ROOT / "tests" / "vectors"
OUT = HERE / "pyjwt.json"

# 64 bytes: long enough for HS512 (jwt-tower refuses secrets shorter than the hash).
HMAC_SECRET = "pyjwt-interop-test-secret-0123456789abcdef0123456789abcdef012345"
assert len(HMAC_SECRET) == 64

ISSUER = "https://pyjwt.example"
AUDIENCE = "jwt-tower-tests"
EXP = 4102444800  # 2100-01-01T00:00:00Z
IAT = 1700000000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_pem(name: str):
    return serialization.load_pem_private_key((KEYS / name).read_bytes(), password=None)


def p521_key():
    path = HERE / "p521-private.pem"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP521R1())
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def claims(jti: str, **overrides) -> dict:
    base = {
        "iss": ISSUER,
        "sub": "py-user",
        "aud": AUDIENCE,
        "iat": IAT,
        "nbf": IAT,
        "exp": EXP,
        "jti": jti,
        "scope": "read write",
    }
    base.update(overrides)
    return base


def raw_token(header: dict, payload: dict, sign) -> str:
    """A token from exact header and claims, signed by `sign(signing_input) -> bytes`."""
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(sign(signing_input.encode()))


def hs256_with(secret: bytes):
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def main() -> None:
    rsa = private_pem("rsa2048-private.pem")
    attacker_rsa = private_pem("rsa2048b-private.pem")
    p256 = private_pem("p256-private.pem")
    p384 = private_pem("p384-private.pem")
    ed25519 = private_pem("ed25519-private.pem")
    p521 = p521_key()

    # (kid, signing key, public key file in jwt-tower/tests/keys, PyJWT's JWK export)
    families = {
        "hmac": ("py-hmac", HMAC_SECRET.encode(), None,
                 HMACAlgorithm.to_jwk(HMAC_SECRET.encode(), as_dict=True)),
        "rsa": ("py-rsa", rsa, "rsa2048-public.pem",
                RSAAlgorithm.to_jwk(rsa.public_key(), as_dict=True)),
        "p256": ("py-p256", p256, "p256-public.pem",
                 ECAlgorithm.to_jwk(p256.public_key(), as_dict=True)),
        "p384": ("py-p384", p384, "p384-public.pem",
                 ECAlgorithm.to_jwk(p384.public_key(), as_dict=True)),
        "ed25519": ("py-ed25519", ed25519, "ed25519-public.pem",
                    OKPAlgorithm.to_jwk(ed25519.public_key(), as_dict=True)),
        "p521": ("py-p521", p521, None,
                 ECAlgorithm.to_jwk(p521.public_key(), as_dict=True)),
    }
    jwks = []
    for kid, _, _, jwk in families.values():
        jwks.append({**jwk, "kid": kid})

    accept = []
    for alg, family in [
        ("HS256", "hmac"), ("HS384", "hmac"), ("HS512", "hmac"),
        ("RS256", "rsa"), ("RS384", "rsa"), ("RS512", "rsa"),
        ("PS256", "rsa"), ("PS384", "rsa"), ("PS512", "rsa"),
        ("ES256", "p256"), ("ES384", "p384"), ("EdDSA", "ed25519"),
    ]:
        kid, key, public_file, _ = families[family]
        payload = claims(f"pyjwt-{alg}")
        token = jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})
        # Round trip through PyJWT itself, so that a bad vector fails here, not in Rust.
        check_key = key if family == "hmac" else key.public_key()
        assert jwt.decode(token, check_key, algorithms=[alg], audience=AUDIENCE) == payload
        accept.append({
            "alg": alg,
            "kid": kid,
            "public_key_file": public_file,
            "claims": payload,
            "token": token,
        })

    refuse = []

    def wrong(name: str, token: str, expect: str, why: str) -> None:
        refuse.append({"name": name, "token": token, "expect": expect, "why": why})

    wrong("alg-none", jwt.encode(claims("pyjwt-none"), None, algorithm="none",
                                 headers={"kid": "py-hmac"}),
          "algorithm_not_allowed", "`none` is never an algorithm, whatever the key set holds")

    # PyJWT refuses a PEM as an HMAC secret, so these are signed with the hmac module.
    for family, kid, pem_file in [
        ("rsa", "py-rsa", "rsa2048-public.pem"),
        ("p256", "py-p256", "p256-public.pem"),
        ("ed25519", "py-ed25519", "ed25519-public.pem"),
    ]:
        secret = (KEYS / pem_file).read_bytes()
        wrong(f"hs256-with-{family}-public-pem-as-secret",
              raw_token({"alg": "HS256", "kid": kid, "typ": "JWT"},
                        claims(f"pyjwt-confusion-{family}"), hs256_with(secret)),
              "algorithm_not_allowed",
              "algorithm confusion: the key named by `kid` is a public key, never an HMAC secret")

    p256_der = lambda data: p256.sign(data, ec.ECDSA(hashes.SHA256()))
    wrong("es256-der-signature",
          raw_token({"alg": "ES256", "kid": "py-p256", "typ": "JWT"},
                    claims("pyjwt-der"), p256_der),
          "invalid_signature", "JWS ECDSA signatures are raw r||s (RFC 7518 3.4), not DER")
    wrong("es256-r-and-s-zero",
          raw_token({"alg": "ES256", "kid": "py-p256", "typ": "JWT"},
                    claims("pyjwt-psychic"), lambda _: bytes(64)),
          "invalid_signature", "r = s = 0 is outside [1, n-1]: the psychic signature")
    # The order of P-384 (SEC 2).
    n384 = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
               "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)
    wrong("es384-r-and-s-equal-n",
          raw_token({"alg": "ES384", "kid": "py-p384", "typ": "JWT"},
                    claims("pyjwt-n"), lambda _: n384.to_bytes(48, "big") * 2),
          "invalid_signature", "r = s = n is outside [1, n-1]")

    attacker_jwk = {**RSAAlgorithm.to_jwk(attacker_rsa.public_key(), as_dict=True), "kid": "py-rsa"}
    wrong("rs256-attacker-key-embedded-jwk",
          jwt.encode(claims("pyjwt-jwk"), attacker_rsa, algorithm="RS256",
                     headers={"kid": "py-rsa", "jwk": attacker_jwk}),
          "invalid_signature", "an embedded `jwk` is never used: the signature is checked with our key")
    wrong("rs256-attacker-key-jku",
          jwt.encode(claims("pyjwt-jku"), attacker_rsa, algorithm="RS256",
                     headers={"kid": "py-rsa", "jku": "https://attacker.example/jwks.json"}),
          "invalid_signature", "`jku` is never fetched: the signature is checked with our key")
    wrong("es512-p521",
          jwt.encode(claims("pyjwt-ES512"), p521, algorithm="ES512", headers={"kid": "py-p521"}),
          "algorithm_not_allowed", "ES512 (P-521) is not an algorithm jwt-tower verifies")
    wrong("hs256-expired",
          jwt.encode(claims("pyjwt-expired", iat=1300815780, nbf=1300815780, exp=1300819380),
                     HMAC_SECRET, algorithm="HS256", headers={"kid": "py-hmac"}),
          "expired", "exp in 2011 is long past, the signature being good changes nothing")
    wrong("hs256-wrong-audience",
          jwt.encode(claims("pyjwt-aud", aud=["another-api"]), HMAC_SECRET, algorithm="HS256",
                     headers={"kid": "py-hmac"}),
          "invalid_audience", "a token for another audience is not for us")
    wrong("hs256-crit",
          jwt.encode(claims("pyjwt-crit"), HMAC_SECRET, algorithm="HS256",
                     headers={"kid": "py-hmac", "crit": ["urn:example:ext"], "urn:example:ext": 1}),
          "unsupported_critical", "a `crit` extension we do not implement must be refused")
    wrong("hs256-kid-path-traversal-empty-secret",
          raw_token({"alg": "HS256", "kid": "../../../../../../dev/null", "typ": "JWT"},
                    claims("pyjwt-kid"), hs256_with(b"")),
          "unknown_key", "a `kid` is a name in our key set, never a path: no such key")

    document = {
        "generator": f"PyJWT {jwt.__version__} on cryptography {cryptography.__version__}, "
                     "by tests/vectors/generate.py",
        "hmac_secret": HMAC_SECRET,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks": {"keys": jwks},
        "accept": accept,
        "refuse": refuse,
    }
    OUT.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(accept)} tokens to accept, {len(refuse)} to refuse")


if __name__ == "__main__":
    main()
