#!/usr/bin/env python3
"""Independent STIR/SHAKEN check (Python `cryptography`, none of Baton's code).

Verifies Identity header values given on the command line, in order: each ES256 signature
over the received header.claims bytes with the provider certificate (first of --chain),
that certificate's chain to --root, iat freshness, and the PASSporT chain (RFC 8946): the
first is `shaken` with orig == --orig, every following `div` names the previous dest in
`div` and keeps `orig`, and the last dest is --dest. Exit 0 and "ok ..." when all holds.

    tools/stir_check.py --chain chain.pem --root root.pem --orig 12025550101 --dest 12025550103 HDR1 HDR2
"""
import argparse
import base64
import json
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def certificates(path: str):
    text = open(path).read()
    blocks = [b + "-----END CERTIFICATE-----\n" for b in text.split("-----END CERTIFICATE-----") if "BEGIN" in b]
    return [x509.load_pem_x509_certificate(b.strip().encode() + b"\n") for b in blocks]


def signed_by(cert, issuer) -> bool:
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        return True
    except Exception:
        return False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chain", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--orig", required=True)
    ap.add_argument("--dest", required=True)
    ap.add_argument("--freshness", type=int, default=60)
    ap.add_argument("headers", nargs="+")
    a = ap.parse_args()

    chain = certificates(a.chain)
    root = certificates(a.root)[0]
    leaf, intermediates = chain[0], chain[1:]
    path = [leaf] + intermediates
    for cert, issuer in zip(path, path[1:] + [root]):
        if not signed_by(cert, issuer):
            print("fail: certificate chain does not reach the root")
            return 1
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        print("fail: not a P-256 key")
        return 1

    previous = None
    kinds = []
    now = int(time.time())
    for value in a.headers:
        jws = value.split(";")[0].strip()
        h, c, s = jws.split(".")
        header, claims, sig = json.loads(b64url(h)), json.loads(b64url(c)), b64url(s)
        if header.get("alg") != "ES256" or len(sig) != 64:
            print("fail: not ES256")
            return 1
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            key.verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
        except Exception:
            print(f"fail: signature of the {header.get('ppt')} PASSporT does not verify")
            return 1
        if not (now - a.freshness <= claims["iat"] <= now + 5):
            print("fail: iat not fresh")
            return 1
        ppt = header.get("ppt")
        if previous is None:
            if ppt != "shaken" or claims["orig"]["tn"] != a.orig:
                print("fail: the first PASSporT is not a shaken one from the caller")
                return 1
        else:
            if ppt != "div" or claims.get("div", {}).get("tn") not in previous["dest"]["tn"] or claims["orig"] != previous["orig"]:
                print("fail: a div PASSporT does not link to the previous dest/orig")
                return 1
            if "attest" in claims or "origid" in claims:
                print("fail: a div PASSporT carries attest/origid")
                return 1
        previous = claims
        kinds.append(ppt)
    if a.dest not in previous["dest"]["tn"]:
        print("fail: the last dest is not the called number")
        return 1
    print("ok " + "+".join(kinds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
