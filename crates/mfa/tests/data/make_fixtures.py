#!/usr/bin/env python3
"""Writes totp-fixtures.txt: TOTP codes made by oathtool (GNU oath-toolkit) and by
Python's pyotp, for secrets, algorithms, digits, periods and times that the RFC 6238
tables do not cover. Each line carries the exact command that made its code.

Run from this directory: python3 make_fixtures.py > totp-fixtures.txt
Needs: oathtool (apt-get install oathtool) and pyotp (pip install pyotp).
"""
import hashlib
import shlex
import subprocess

import pyotp

SECRETS = [
    "JBSWY3DPEHPK3PXP",                                  # 80 bits, the common example
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",                  # RFC 6238 SHA1 seed
    "KRUGKIDROVUWG2ZAMJZG653OEBTG66BANJ2W24DTEBXXMZLSEB2GQZJANRQXU6JAMRXWO",  # 43 bytes
    "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPIYTEMZUGU3DOOBZ",              # 35 bytes
]
TIMES = [0, 59, 1111111109, 1700000000, 1767225600, 4102444800]
CASES = [("sha1", 6, 30), ("sha1", 8, 30), ("sha256", 6, 30), ("sha256", 8, 60),
         ("sha512", 7, 30), ("sha512", 8, 15), ("sha1", 6, 60)]
DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}

print("# tool|secret|algorithm|digits|period|time|code|command")
for secret in SECRETS:
    for algorithm, digits, period in CASES:
        for time in TIMES:
            cmd = ["oathtool", f"--totp={algorithm}", "--base32", f"--digits={digits}",
                   f"--time-step-size={period}s", f"--now=@{time}", secret]
            code = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
            print(f"oathtool|{secret}|{algorithm}|{digits}|{period}|{time}|{code}|{shlex.join(cmd)}")
            if len(secret) * 5 < 112:
                continue  # pyotp refuses secrets under 112 bits
            call = (f"pyotp.TOTP({secret!r}, digits={digits}, digest=hashlib.{algorithm}, "
                    f"interval={period}).at({time})")
            code = pyotp.TOTP(secret, digits=digits, digest=DIGESTS[algorithm], interval=period).at(time)
            print(f"pyotp|{secret}|{algorithm}|{digits}|{period}|{time}|{code}|python3 -c "
                  f"{shlex.quote('import hashlib, pyotp; print(' + call + ')')}")
