#!/usr/bin/env bash
# Regenerates the password hashes made by other tools that the fixture tests verify.
#
#     crates/passwords/tests/data/make-fixtures.sh            # every file but one (below)
#     crates/passwords/tests/data/make-fixtures.sh FILE...    # only these files
#
# htpasswd-readme.txt is made only when named: the README example and the palisade CLI
# test quote its hash, so a new one must be copied there too (a test checks the README).
#
# Needs `htpasswd` (Debian package apache2-utils) and a Python with the `bcrypt` and
# `argon2-cffi` packages, for example:
#
#     apt-get install apache2-utils
#     python3 -m venv /tmp/pw-venv && /tmp/pw-venv/bin/pip install bcrypt argon2-cffi
#     PYTHON=/tmp/pw-venv/bin/python crates/passwords/tests/data/make-fixtures.sh
#
# Each output file holds one `password<TAB>hash` line per password, under a header that
# names the tool, its version and the exact command that made every line. Salts are random
# (except in known-answers.txt), so a rerun changes the hashes, never the passwords.
set -euo pipefail

cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

PASSWORDS=(
    "correct horse battery staple"
    "hunter2"
    "pässwörd-ünïcode"
    "a 64-character passphrase, long enough to need every byte of it!"
)

header() {
    printf '# %s\n' "$@"
    printf '# Format: password<TAB>hash, one per line. Made by make-fixtures.sh.\n'
}

htpasswd_version() {
    dpkg-query -W -f '${Version}' apache2-utils 2>/dev/null || echo '(version unknown)'
}

# htpasswd -nbB prints `user:<hash>` and a blank line.
htpasswd_hash() {
    local line
    line=$(htpasswd -nbB user "$1" | head -n 1)
    printf '%s\n' "${line#user:}"
}

make_htpasswd_2y() {
{
    header "htpasswd $(htpasswd_version)" \
        "command: htpasswd -nbB user PASSWORD   (bcrypt \$2y\$, htpasswd's default cost 5)"
    for pw in "${PASSWORDS[@]}"; do
        printf '%s\t%s\n' "$pw" "$(htpasswd_hash "$pw")"
    done
} >htpasswd-2y.txt
}

# Python one-liners; the password arrives as argv[1] (UTF-8), the hash goes to stdout.
py() {
    "$PYTHON" -c "$1" "$2"
}

make_python_bcrypt() {
BCRYPT_2B='import sys, bcrypt; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt()).decode())'
BCRYPT_2A='import sys, bcrypt; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(prefix=b"2a")).decode())'
{
    header "python bcrypt $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("bcrypt"))')" \
        "command (\$2b\$, default cost 12): python -c '$BCRYPT_2B' PASSWORD" \
        "the last line (\$2a\$): python -c '$BCRYPT_2A' PASSWORD"
    for pw in "${PASSWORDS[@]}"; do
        printf '%s\t%s\n' "$pw" "$(py "$BCRYPT_2B" "$pw")"
    done
    printf '%s\t%s\n' "${PASSWORDS[1]}" "$(py "$BCRYPT_2A" "${PASSWORDS[1]}")"
} >python-bcrypt.txt
}

make_argon2_cffi() {
ARGON2_DEFAULT='import sys, argon2; print(argon2.PasswordHasher().hash(sys.argv[1]))'
{
    header "python argon2-cffi $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("argon2-cffi"))') (argon2id, its defaults m=65536 t=3 p=4)" \
        "command: python -c '$ARGON2_DEFAULT' PASSWORD"
    for pw in "${PASSWORDS[@]}"; do
        printf '%s\t%s\n' "$pw" "$(py "$ARGON2_DEFAULT" "$pw")"
    done
} >argon2-cffi.txt
}

make_argon2_cffi_legacy() {
# Legacy argon2 hashes: argon2i, and argon2id below the OWASP minimum. Both verify and
# both need a rehash.
ARGON2I='import sys, argon2; print(argon2.PasswordHasher(time_cost=3, memory_cost=4096, parallelism=1, type=argon2.Type.I).hash(sys.argv[1]))'
ARGON2ID_WEAK='import sys, argon2; print(argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=2).hash(sys.argv[1]))'
{
    header "python argon2-cffi $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("argon2-cffi"))'), legacy parameters" \
        "first line (argon2i): python -c '$ARGON2I' PASSWORD" \
        "second line (argon2id, m=8192 t=1 p=2): python -c '$ARGON2ID_WEAK' PASSWORD"
    printf '%s\t%s\n' "${PASSWORDS[1]}" "$(py "$ARGON2I" "${PASSWORDS[1]}")"
    printf '%s\t%s\n' "${PASSWORDS[0]}" "$(py "$ARGON2ID_WEAK" "${PASSWORDS[0]}")"
} >argon2-cffi-legacy.txt
}

make_known_answers() {
# Known answers: a fixed salt (bytes 0..16), so the exact hash string is reproducible and
# this crate's own hashing must produce it byte for byte.
ARGON2_KAT='import sys, argon2; print(argon2.low_level.hash_secret(sys.argv[1].encode(), bytes(range(16)), time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=argon2.Type.ID).decode())'
BCRYPT_KAT='import sys, bcrypt, base64; salt = base64.b64encode(bytes(range(16))).decode().translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")).rstrip("=")[:22]; print(bcrypt.hashpw(sys.argv[1].encode(), ("$2b$10$" + salt).encode()).decode())'
{
    header "known answers with the salt bytes 0x00..0x0f" \
        "first line (argon2-cffi, OWASP m=19456 t=2 p=1): python -c '$ARGON2_KAT' PASSWORD" \
        "second line (python bcrypt, cost 10): python -c '$BCRYPT_KAT' PASSWORD"
    printf '%s\t%s\n' "${PASSWORDS[0]}" "$(py "$ARGON2_KAT" "${PASSWORDS[0]}")"
    printf '%s\t%s\n' "${PASSWORDS[0]}" "$(py "$BCRYPT_KAT" "${PASSWORDS[0]}")"
} >known-answers.txt
}

# Text as typed, never normalized: decomposed accents, a ligature and a circled digit,
# all of which NFKC changes. A system that did not normalize hashed exactly these bytes.
make_htpasswd_unnormalized() {
    local decomposed=$'cafe\xcc\x81 cre\xcc\x80me'   # e + U+0301, e + U+0300
    local compatibility=$'\xef\xac\x81nance \xe2\x91\xa0'   # U+FB01 (fi), U+2460 (1)
    {
        header "htpasswd $(htpasswd_version), passwords as typed: NFKC changes each of them" \
            "command: htpasswd -nbB user PASSWORD   (the password's bytes exactly as below)" \
            "first line: 'cafe' U+0301 ' cre' U+0300 'me'; second line: U+FB01 'nance ' U+2460"
        printf '%s\t%s\n' "$decomposed" "$(htpasswd_hash "$decomposed")"
        printf '%s\t%s\n' "$compatibility" "$(htpasswd_hash "$compatibility")"
    } >htpasswd-unnormalized.txt
}

# htpasswd reads only the first 72 bytes of a bcrypt password and says nothing: the second
# line's hash is the first line's password's hash too.
make_htpasswd_72() {
    local p72
    p72="$(printf 'p%.0s' $(seq 71))!"
    {
        header "htpasswd $(htpasswd_version), passwords of 72 and 73 bytes" \
            "command: htpasswd -nbB user PASSWORD   (it silently drops bytes after the 72nd)"
        printf '%s\t%s\n' "$p72" "$(htpasswd_hash "$p72")"
        printf '%s\t%s\n' "${p72}x" "$(htpasswd_hash "${p72}x")"
    } >htpasswd-72.txt
}

# The hash the README example and the palisade CLI test quote.
make_htpasswd_readme() {
    {
        header "htpasswd $(htpasswd_version)" \
            "command: htpasswd -nbB user hunter2   (bcrypt \$2y\$, htpasswd's default cost 5)" \
            "quoted by crates/passwords/README.md and crates/palisade-cli/tests/password.rs"
        printf '%s\t%s\n' hunter2 "$(htpasswd_hash hunter2)"
    } >htpasswd-readme.txt
}

make_file() {
    case "$1" in
        htpasswd-2y.txt) make_htpasswd_2y ;;
        python-bcrypt.txt) make_python_bcrypt ;;
        argon2-cffi.txt) make_argon2_cffi ;;
        argon2-cffi-legacy.txt) make_argon2_cffi_legacy ;;
        known-answers.txt) make_known_answers ;;
        htpasswd-unnormalized.txt) make_htpasswd_unnormalized ;;
        htpasswd-72.txt) make_htpasswd_72 ;;
        htpasswd-readme.txt) make_htpasswd_readme ;;
        *) echo "make-fixtures.sh: no recipe for $1" >&2; exit 2 ;;
    esac
}

if [ "$#" -eq 0 ]; then
    set -- htpasswd-2y.txt python-bcrypt.txt argon2-cffi.txt argon2-cffi-legacy.txt \
        known-answers.txt htpasswd-unnormalized.txt htpasswd-72.txt
fi
for file in "$@"; do
    make_file "$file"
done
