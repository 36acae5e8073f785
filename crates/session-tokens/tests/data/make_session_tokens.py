#!/usr/bin/env python3
"""Writes session-tokens.json: known-answer session tokens, computed without this crate.

HS256 with Python's hmac and hashlib, Ed25519 with the `cryptography` package; the JSON
texts are written byte for byte as the crate serializes its header and claims (members
in declaration order, no whitespace). The tampered tokens are each refused for one
reason, named as `session_tokens::Reason` names it.

    python3 make_session_tokens.py > session-tokens.json
"""

import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

NOW = 1_735_689_600  # 2025-01-01T00:00:00Z
LIFETIME = 30 * 24 * 3600
ISSUER = "https://auth.example.com"
AUDIENCE = "https://app.example.com"
# The session id: 32 bytes 00 01 02 ... 1f from the test's random source.
SID_BYTES = bytes(range(32))
HS256_SECRET = bytes(range(0x40, 0x60))
# RFC 8032, section 7.1, TEST 1 (the RFC 8037 example key).
ED25519_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def sign(alg: str, key, signing_input: bytes) -> bytes:
    if alg == "HS256":
        return hmac.new(key, signing_input, hashlib.sha256).digest()
    return key.sign(signing_input)


def token(alg: str, key, header: dict, claims: dict) -> str:
    signing_input = b64(compact(header)) + "." + b64(compact(claims))
    return signing_input + "." + b64(sign(alg, key, signing_input.encode()))


def claims() -> dict:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "org": "acme",
        "sid": b64(SID_BYTES),
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + LIFETIME,
        "auth_time": NOW,
        "aal": 2,
        "amr": ["pwd", "otp"],
        "gen": 0,
    }


def vector(alg: str, kid: str, key, key_fields: dict) -> dict:
    header = {"alg": alg, "typ": "session+jwt", "kid": kid}
    genuine = token(alg, key, header, claims())
    head, payload, signature = genuine.split(".")
    # The claims of another user under the genuine signature.
    other = dict(claims(), sub="mallory")
    swapped_payload = f"{head}.{b64(compact(other))}.{signature}"
    # One bit of the signature flipped.
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    flipped = f"{head}.{payload}.{b64(bytes(raw))}"
    # Signed with the key, but typed as a plain JWT: another kind of token.
    jwt_typed = token(alg, key, dict(header, typ="JWT"), claims())
    # Signed with the key, but for another audience.
    other_audience = token(alg, key, header, dict(claims(), aud="https://other.example.com"))
    # Signed with the key, but expired.
    expired = token(alg, key, header, dict(claims(), exp=NOW - 3600))
    return {
        "alg": alg,
        "kid": kid,
        **key_fields,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": NOW,
        "tenant": "acme",
        "user": "alice",
        "aal": 2,
        "amr": ["pwd", "otp"],
        "sid_bytes": SID_BYTES.hex(),
        "header": compact(header).decode(),
        "claims": compact(claims()).decode(),
        "token": genuine,
        "tampered": [
            {"what": "payload of another user, genuine signature", "token": swapped_payload, "reason": "BadSignature"},
            {"what": "one signature bit flipped", "token": flipped, "reason": "BadSignature"},
            {"what": "typ JWT, signed with the key", "token": jwt_typed, "reason": "WrongType"},
            {"what": "another audience, signed with the key", "token": other_audience, "reason": "WrongAudience"},
            {"what": "exp an hour ago, signed with the key", "token": expired, "reason": "Expired"},
        ],
    }


def main() -> None:
    ed = Ed25519PrivateKey.from_private_bytes(ED25519_SEED)
    public = ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    vectors = [
        vector("HS256", "kat-hs256", HS256_SECRET, {"secret": HS256_SECRET.hex()}),
        vector("EdDSA", "kat-ed25519", ed, {"seed": ED25519_SEED.hex(), "public_key": public.hex()}),
    ]
    print(json.dumps({"source": "make_session_tokens.py (Python hmac, hashlib, cryptography)", "vectors": vectors}, indent=2))


if __name__ == "__main__":
    main()
