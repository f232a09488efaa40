"""Checks what mistgate sent to the local stand-ins of AWS SNS and Google Pub/Sub
against each service's documented request, with code independent of mistgate's:

  sigv4 SECRET < request.json     the request's Signature Version 4 signature, recomputed
                                  with hashlib and hmac by AWS's documented algorithm
                                  (canonical request, string to sign, derived key);
                                  request.json: {method, path, headers, body_b64}
  jwt PUBLIC_PEM AUDIENCE < jwt   a service account's token assertion: RS256 signature
                                  verified with `cryptography`, and its claims

Prints "ok", or exits non-zero naming what differs.
"""

import base64
import hashlib
import hmac
import json
import re
import sys
import time


def fail(why):
    sys.exit(f"stand-in check failed: {why}")


def sigv4(secret):
    req = json.load(sys.stdin)
    headers = {k.lower(): v for k, v in req["headers"].items()}
    auth = headers.get("authorization", "")
    m = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
        auth,
    )
    if not m:
        fail(f"Authorization is not SigV4: {auth!r}")
    _key, day, region, service, signed, signature = m.groups()
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(day):
        fail("X-Amz-Date and the credential scope disagree")
    names = signed.split(";")
    for required in ("host", "x-amz-date"):
        if required not in names:
            fail(f"{required} is not signed")
    canonical_headers = "".join(
        f"{n}:{' '.join(headers[n].strip().split())}\n" for n in names
    )
    body = base64.b64decode(req["body_b64"])
    canonical = "\n".join(
        [
            req["method"],
            req["path"],
            "",
            canonical_headers,
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        fail(f"signature {signature} != {expected}")
    print(json.dumps({"region": region, "service": service}))


def jwt(public_pem, audience):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    token = sys.stdin.read().strip()
    parts = token.split(".")
    if len(parts) != 3:
        fail("not a JWT")

    def decode(p):
        return base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))

    header, claims = json.loads(decode(parts[0])), json.loads(decode(parts[1]))
    if header.get("alg") != "RS256":
        fail(f"alg {header.get('alg')}")
    with open(public_pem, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    try:
        key.verify(
            decode(parts[2]),
            f"{parts[0]}.{parts[1]}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except Exception as e:
        fail(f"signature: {e!r}")
    now = time.time()
    if claims.get("aud") != audience:
        fail(f"aud {claims.get('aud')}")
    if "https://www.googleapis.com/auth/pubsub" not in claims.get("scope", "").split():
        fail(f"scope {claims.get('scope')}")
    if not (abs(claims["iat"] - now) < 300 and 0 < claims["exp"] - claims["iat"] <= 3600):
        fail(f"times {claims['iat']} {claims['exp']}")
    print(json.dumps({"iss": claims["iss"]}))


if sys.argv[1] == "sigv4":
    sigv4(sys.argv[2])
elif sys.argv[1] == "jwt":
    jwt(sys.argv[2], sys.argv[3])
else:
    fail(f"unknown check {sys.argv[1]}")
