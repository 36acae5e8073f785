"""Builds fixtures.json from the providers' own webhook libraries (see regenerate.sh).

Two directions:
- "provider_signed": each library signs fixed inputs; the Rust tests verify those
  headers with webhook-verify and check that it signs the same inputs to the same bytes.
- "palisade_signed": `palisade webhook sign` signs inputs with the current time; each
  library verifies the result, and a copy with one body byte flipped. The verdicts are
  recorded, with the headers, so the Rust tests can check that webhook-verify still
  produces exactly those headers.
"""

import argparse
import base64
import datetime
import importlib.metadata
import json
import platform
import subprocess
import time
import urllib.parse

import slack_sdk.signature
import standardwebhooks
import stripe
import svix.webhooks
from twilio.request_validator import RequestValidator

FIXED_TS = 1700000000

STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SVIX_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
STRIPE_SECRET = "whsec_interop_stripe_0123456789abcdef"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TWILIO_TOKEN = "12345"
GITHUB_SECRET = "It's a Secret to Everybody"

TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
    ("Body", "héllo wörld & more"),
]
# A message with several media URLs: a name repeated, one (name, value) pair twice.
TWILIO_REPEATED = [
    ("To", "+18005551212"),
    ("MediaUrl", "https://example.com/b.jpg"),
    ("MediaUrl", "https://example.com/a.jpg"),
    ("MediaUrl", "https://example.com/b.jpg"),
    ("NumMedia", "3"),
]


class MultiDict:
    """Form parameters with repeated names, read through `getlist` as Twilio's
    RequestValidator reads Django's QueryDict (a dict keeps one value per name)."""

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def __iter__(self):
        return iter(name for name, _ in self.pairs)

    def __bool__(self):
        return bool(self.pairs)

    def getlist(self, name):
        return [value for key, value in self.pairs if key == name]



def flip(body: str) -> str:
    """The body with its last character changed (still valid UTF-8)."""
    last = body[-1]
    return body[:-1] + ("A" if last != "A" else "B")


def palisade_sign(palisade, scheme, secret, body, timestamp, msg_id=None, url=None):
    cmd = [palisade, "webhook", "sign", "--scheme", scheme, "--secret", secret,
           "--timestamp", str(timestamp)]
    if msg_id:
        cmd += ["--id", msg_id]
    if url:
        cmd += ["--url", url]
    out = subprocess.run(cmd, input=body.encode(), capture_output=True, check=True).stdout
    headers = {}
    for line in out.decode().splitlines():
        name, value = line.split(": ", 1)
        headers[name] = value
    return headers


def octokit(args, jobs):
    out = subprocess.run(["node", args.node_script, args.octokit], input=json.dumps(jobs).encode(),
                         capture_output=True, check=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--palisade", required=True)
    parser.add_argument("--octokit", required=True)
    parser.add_argument("--node-script", required=True)
    args = parser.parse_args()

    provider_signed = []
    palisade_signed = []

    def provider(library, scheme, secret, body, headers, timestamp=None, msg_id=None, url=None,
                 verify_url=None):
        # `url` is what the provider signed; `verify_url`, when given, the URL the
        # receiver sees (Twilio's port variants).
        provider_signed.append({"library": library, "scheme": scheme, "secret": secret,
                                "body": body, "timestamp": timestamp, "id": msg_id, "url": url,
                                "verify_url": verify_url, "headers": headers})

    def ours(library, scheme, secret, body, headers, accepts, rejects_tampered, timestamp=None,
             msg_id=None, url=None):
        palisade_signed.append({"library": library, "scheme": scheme, "secret": secret,
                                "body": body, "timestamp": timestamp, "id": msg_id, "url": url,
                                "headers": headers, "provider_accepts": accepts,
                                "provider_rejects_tampered": rejects_tampered})

    now = int(time.time())

    # Standard Webhooks (reference Python library).
    wh = standardwebhooks.Webhook(STANDARD_SECRET)
    body = '{"type":"invoice.paid","data":{"amount":4200,"note":"naïve café"}}'
    msg_id = "msg_2Kx7mWbX1pq9aZ0tYvFh3LcD"
    sig = wh.sign(msg_id, datetime.datetime.fromtimestamp(FIXED_TS, tz=datetime.timezone.utc), body)
    provider("standardwebhooks", "standard", STANDARD_SECRET, body,
             {"webhook-id": msg_id, "webhook-timestamp": str(FIXED_TS), "webhook-signature": sig},
             FIXED_TS, msg_id)
    headers = palisade_sign(args.palisade, "standard", STANDARD_SECRET, body, now, msg_id)

    def standard_ok(b, h):
        try:
            wh.verify(b, h)
            return True
        except Exception:
            return False

    ours("standardwebhooks", "standard", STANDARD_SECRET, body, headers,
         standard_ok(body, headers), not standard_ok(flip(body), headers), now, msg_id)

    # Svix.
    sw = svix.webhooks.Webhook(SVIX_SECRET)
    body = '{"event":"user.created","user":{"id":42}}'
    msg_id = "msg_svix_interop_0001"
    sig = sw.sign(msg_id, datetime.datetime.fromtimestamp(FIXED_TS, tz=datetime.timezone.utc), body)
    provider("svix", "svix", SVIX_SECRET, body,
             {"svix-id": msg_id, "svix-timestamp": str(FIXED_TS), "svix-signature": sig},
             FIXED_TS, msg_id)
    headers = palisade_sign(args.palisade, "svix", SVIX_SECRET, body, now, msg_id)

    def svix_ok(b, h):
        try:
            sw.verify(b, h)
            return True
        except Exception:
            return False

    ours("svix", "svix", SVIX_SECRET, body, headers, svix_ok(body, headers),
         not svix_ok(flip(body), headers), now, msg_id)

    # Stripe.
    body = '{"id":"evt_1Nq","object":"event","type":"payment_intent.succeeded"}'
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE_SECRET, FIXED_TS)
    provider("stripe", "stripe", STRIPE_SECRET, body, {"stripe-signature": header}, FIXED_TS)
    headers = palisade_sign(args.palisade, "stripe", STRIPE_SECRET, body, now)

    def stripe_ok(b, h):
        try:
            return stripe.WebhookSignature.verify_header(b, h["stripe-signature"], STRIPE_SECRET, 300)
        except Exception:
            return False

    ours("stripe", "stripe", STRIPE_SECRET, body, headers, stripe_ok(body, headers),
         not stripe_ok(flip(body), headers), now)

    # Slack.
    body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070"
    verifier = slack_sdk.signature.SignatureVerifier(SLACK_SECRET)
    sig = verifier.generate_signature(timestamp=str(FIXED_TS), body=body)
    provider("slack_sdk", "slack", SLACK_SECRET, body,
             {"x-slack-request-timestamp": str(FIXED_TS), "x-slack-signature": sig}, FIXED_TS)
    headers = palisade_sign(args.palisade, "slack", SLACK_SECRET, body, now)

    def slack_ok(b, h):
        return verifier.is_valid(body=b, timestamp=h["x-slack-request-timestamp"],
                                 signature=h["x-slack-signature"])

    ours("slack_sdk", "slack", SLACK_SECRET, body, headers, slack_ok(body, headers),
         not slack_ok(flip(body), headers), now)

    # Twilio: the body is the form-encoded parameters, the URL is signed too.
    validator = RequestValidator(TWILIO_TOKEN)
    body = urllib.parse.urlencode(TWILIO_PARAMS)
    sig = validator.compute_signature(TWILIO_URL, dict(TWILIO_PARAMS))
    provider("twilio", "twilio", TWILIO_TOKEN, body, {"x-twilio-signature": sig}, url=TWILIO_URL)
    headers = palisade_sign(args.palisade, "twilio", TWILIO_TOKEN, body, now, url=TWILIO_URL)
    tampered = dict(TWILIO_PARAMS, Digits="1235")
    ours("twilio", "twilio", TWILIO_TOKEN, body, headers,
         validator.validate(TWILIO_URL, dict(TWILIO_PARAMS), headers["x-twilio-signature"]),
         not validator.validate(TWILIO_URL, tampered, headers["x-twilio-signature"]),
         url=TWILIO_URL)

    # Twilio with a repeated parameter name: each distinct value, sorted, is signed.
    body = urllib.parse.urlencode(TWILIO_REPEATED)
    sig = validator.compute_signature(TWILIO_URL, MultiDict(TWILIO_REPEATED))
    provider("twilio", "twilio", TWILIO_TOKEN, body, {"x-twilio-signature": sig}, url=TWILIO_URL)
    headers = palisade_sign(args.palisade, "twilio", TWILIO_TOKEN, body, now, url=TWILIO_URL)
    tampered = MultiDict(TWILIO_REPEATED[:-1] + [("MediaUrl", "https://example.com/c.jpg")])
    ours("twilio", "twilio", TWILIO_TOKEN, body, headers,
         validator.validate(TWILIO_URL, MultiDict(TWILIO_REPEATED), headers["x-twilio-signature"]),
         not validator.validate(TWILIO_URL, tampered, headers["x-twilio-signature"]),
         url=TWILIO_URL)

    # Twilio signed the URL with its default port; the receiver sees it without, and
    # (as Twilio's validator) accepts either form.
    with_port = TWILIO_URL.replace("mycompany.com/", "mycompany.com:443/")
    body = urllib.parse.urlencode(TWILIO_PARAMS)
    sig = validator.compute_signature(with_port, dict(TWILIO_PARAMS))
    assert validator.validate(TWILIO_URL, dict(TWILIO_PARAMS), sig)
    provider("twilio", "twilio", TWILIO_TOKEN, body, {"x-twilio-signature": sig}, url=with_port,
             verify_url=TWILIO_URL)

    # GitHub and Jira (the same sha256=<hex> format) with @octokit/webhooks-methods.
    bodies = ["Hello, World!", '{"action":"opened","issue":{"title":"Ünïcödé 👋"}}']
    signed = octokit(args, [{"op": "sign", "secret": GITHUB_SECRET, "body": b} for b in bodies])
    for scheme, header in (("github", "x-hub-signature-256"), ("jira", "x-hub-signature")):
        for b, answer in zip(bodies, signed):
            provider("@octokit/webhooks-methods", scheme, GITHUB_SECRET, b, {header: answer["signature"]})
        ours_headers = [palisade_sign(args.palisade, scheme, GITHUB_SECRET, b, now) for b in bodies]
        jobs = []
        for b, h in zip(bodies, ours_headers):
            jobs.append({"op": "verify", "secret": GITHUB_SECRET, "body": b, "signature": h[header]})
            jobs.append({"op": "verify", "secret": GITHUB_SECRET, "body": flip(b), "signature": h[header]})
        verdicts = octokit(args, jobs)
        for i, (b, h) in enumerate(zip(bodies, ours_headers)):
            ours("@octokit/webhooks-methods", scheme, GITHUB_SECRET, b, h,
                 verdicts[2 * i]["valid"], not verdicts[2 * i + 1]["valid"])

    versions = {name: importlib.metadata.version(name)
                for name in ("standardwebhooks", "svix", "stripe", "slack_sdk", "twilio")}
    with open(f"{args.octokit}/package.json") as f:
        versions["@octokit/webhooks-methods"] = json.load(f)["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    fixtures = {
        "about": "Made by tests/interop/regenerate.sh; bodies are UTF-8 text.",
        "libraries": versions,
        # The interpreter running this script (the virtualenv's), not whatever `python`
        # is first on the PATH.
        "runtimes": {"python": f"Python {platform.python_version()}", "node": node},
        "provider_signed": provider_signed,
        "palisade_signed": palisade_signed,
    }
    print(json.dumps(fixtures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
