#!/usr/bin/env bash
# make-corpus.sh SIGNET - regenerates the seed corpora in fuzz/corpus/ from
# signet itself and openssl (plus Python cryptography for CRLs when it is
# installed).  The seeds are committed; run this only to refresh them.
# Seeds are kept small (a few KB per target): libFuzzer mutates from them.
set -euo pipefail
SIGNET=${1:?usage: make-corpus.sh path/to/signet}
SIGNET=$(cd "$(dirname "$SIGNET")" && pwd)/$(basename "$SIGNET")
here=$(cd "$(dirname "$0")" && pwd)
C=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

for t in certs csr crl key name san config allow; do mkdir -p "$C/$t"; done

printf 'seed pass\n' >pass.txt
"$SIGNET" init --dir ca --name "Seed Root CA" --intermediate --no-passphrase \
	--permit-dns .example.com --exclude-dns bad.example.com \
	--crl-url http://127.0.0.1/ca.crl --ocsp-url http://127.0.0.1/ocsp >/dev/null
"$SIGNET" issue www.example.com --dir ca --profile server \
	--san dns:www.example.com,ip:10.0.0.1,ip:::1,email:ops@example.com,uri:spiffe://example.com/w \
	>/dev/null
"$SIGNET" issue alice --dir ca --profile client --key-type ed25519 >/dev/null

# certificates: single PEM, chain, DER, root
cp www.example.com.crt "$C/certs/leaf.pem"
cp www.example.com.chain.pem "$C/certs/chain.pem"
openssl x509 -in alice.crt -outform DER -out "$C/certs/ed25519.der"
cp ca/root.crt "$C/certs/root.pem"
# a CA certificate as DER: the CA's own reader (cert_fast.c) takes DER
openssl x509 -in ca/intermediate.crt -outform DER -out "$C/certs/intermediate.der"

# CSRs: signet's PEM with SANs, DER, openssl's with an RSA key and attributes
"$SIGNET" key new --out k.pem
"$SIGNET" csr --key k.pem --subject "CN=api.example.com,O=Seed" \
	--san dns:api.example.com,ip:192.0.2.1 --out "$C/csr/ec.csr"
openssl req -in "$C/csr/ec.csr" -outform DER -out "$C/csr/ec.der"
openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj "/CN=rsa.example.com" \
	-addext "subjectAltName=DNS:rsa.example.com,email:a@example.com" \
	-out "$C/csr/rsa.csr" 2>/dev/null
# the fast reader's other key types (signet_csr_parse_key): Ed25519 and P-384
"$SIGNET" key new --type ed25519 --out ed.pem
"$SIGNET" csr --key ed.pem --subject "CN=ed.example.com" --san dns:ed.example.com \
	--out "$C/csr/ed25519.csr"
"$SIGNET" key new --type ec-p384 --out p384.pem
"$SIGNET" csr --key p384.pem --subject "CN=p384.example.com" --san uri:spiffe://example.org/w \
	--out "$C/csr/p384.csr"

# CRLs: PEM and DER, with and without entries
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out crlca.key 2>/dev/null
openssl req -x509 -new -key crlca.key -subj "/CN=CRL Seed CA" -days 30 -out crlca.crt 2>/dev/null
mkdir -p db && : >db/index.txt && echo 01 >db/crlnumber
printf 'V\t300101000000Z\t\t0A\tunknown\t/CN=x\nR\t300101000000Z\t240101000000Z,keyCompromise\t0B\tunknown\t/CN=y\n' >db/index.txt
cat >ca.cnf <<'CNF'
[ca]
default_ca = d
[d]
database = db/index.txt
crlnumber = db/crlnumber
default_md = sha256
default_crl_days = 7
CNF
openssl ca -config ca.cnf -gencrl -keyfile crlca.key -cert crlca.crt -out "$C/crl/revoked.pem" 2>/dev/null
openssl crl -in "$C/crl/revoked.pem" -outform DER -out "$C/crl/revoked.der"
: >db/index.txt
openssl ca -config ca.cnf -gencrl -keyfile crlca.key -cert crlca.crt -out "$C/crl/empty.pem" 2>/dev/null

# keys: byte 0 = passphrase length (0xff: none), then passphrase, then key
key_seed() { # out passlen pass file
	{ printf "\\x$(printf %02x "$2")"; printf '%s' "$3"; cat "$4"; } >"$1"
}
"$SIGNET" key new --type ec-p256 --out ec.key
openssl pkey -in ec.key -outform DER -out ec.der
key_seed "$C/key/ec-plain" 255 "" ec.key
key_seed "$C/key/ec-der" 255 "" ec.der
# the fast reader's other key types (key_fast.c): P-384 and plain Ed25519
"$SIGNET" key new --type ec-p384 --out p384.key
key_seed "$C/key/p384-plain" 255 "" p384.key
"$SIGNET" key new --type ed25519 --out ed.key
key_seed "$C/key/ed25519-plain" 255 "" ed.key
"$SIGNET" key new --type ed25519 --encrypt --pass-file pass.txt --out enc.key
key_seed "$C/key/ed25519-scrypt" 9 "seed pass" enc.key
key_seed "$C/key/ed25519-scrypt-wrongpass" 5 "wrong" enc.key
openssl pkcs8 -topk8 -in ec.key -v2 aes-128-cbc -iter 10 -passout pass:pw -out pbkdf2.key
key_seed "$C/key/ec-pbkdf2" 2 "pw" pbkdf2.key
openssl ec -in ec.key -aes128 -passout pass:pw -out trad.key 2>/dev/null
key_seed "$C/key/ec-traditional-enc" 2 "pw" trad.key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key 2>/dev/null
key_seed "$C/key/rsa1024-weak" 255 "" rsa1024.key

# subject strings
printf 'CN=api.example.com,O=Example Inc,C=DE' >"$C/name/rfc4514"
printf '/CN=api/O=Example/OU=Ops/L=Berlin/ST=BE' >"$C/name/openssl"
printf 'CN=a\\,b,O=x\\\\y,DC=example,DC=com,emailAddress=a@b.c,serialNumber=42,UID=u' >"$C/name/escapes"

# SAN strings
printf 'dns:www.example.com,dns:*.example.com' >"$C/san/dns"
printf 'ip:10.0.0.1,ip:::1,ip:2001:db8::1' >"$C/san/ip"
printf 'email:ops@example.com, uri:spiffe://example.com/ns/w, DNS:A.Example.COM ' >"$C/san/mixed"

# CA configuration files, as init writes them
cp ca/signet.json "$C/config/intermediate.json"
"$SIGNET" init --dir ca2 --name "Plain Root" --no-passphrase >/dev/null
cp ca2/signet.json "$C/config/root-only.json"

# allow rules, NUL, a client certificate
{ printf 'cn=alice\nsan:dns=www.example.com\nserial=%s\n' \
	"$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2)"; printf '\0'; cat alice.crt; } >"$C/allow/alice"
{ printf 'san:ip=10.0.0.1\nsan:email=ops@example.com\nsan:uri=spiffe://example.com/w\n'; printf '\0';
  openssl x509 -in www.example.com.crt -outform DER; } >"$C/allow/www-der"

du -sh "$C"/*

# verify: option byte, then leaf, intermediate(s), anchor last; one with a CRL
mkdir -p "$C/verify"
{ printf '\x05'; cat www.example.com.crt ca/intermediate.crt ca/root.crt; } >"$C/verify/server-chain"
{ printf '\x02'; cat alice.crt ca/intermediate.crt ca/root.crt; } >"$C/verify/client-chain"
{ printf '\x01'; cat www.example.com.crt ca/root.crt; } >"$C/verify/missing-intermediate"
"$SIGNET" revoke "$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2)" --dir ca >/dev/null 2>&1 &&
	"$SIGNET" crl --dir ca --out ca.crl >/dev/null 2>&1 &&
	{ printf '\x02'; cat alice.crt ca/intermediate.crt ca/root.crt ca.crl; } >"$C/verify/revoked-with-crl"

# limbo: one small testcase per id prefix of the x509-limbo suite
limbo=$here/../../shared/testdata/x509-limbo/limbo.json
if [ -f "$limbo" ]; then
	mkdir -p "$C/limbo"
	python3 - "$limbo" "$C/limbo" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))["testcases"]
picked = {}
for tc in cases:
    s = json.dumps(tc)
    pre = tc["id"].split("::")[0]
    if len(s) <= 6000 and pre not in picked:
        picked[pre] = s
for pre, s in sorted(picked.items())[:6]:
    open(f"{sys.argv[2]}/{pre}", "w").write(s)
PY
fi
du -sh "$C"/verify "$C"/limbo 2>/dev/null

# ocsp_response: byte 0 options (1 nonce request, 2 trust stack, 4
# nextUpdate), 2-byte length + response, 2-byte length + request, then the
# certificate asked about, its issuer and the trust stack (PEM).  Answers
# by `signet ocsp respond`, valid for 100 years so the seeds stay fresh.
mkdir -p "$C/ocsp_response"
"$SIGNET" init --dir oca --name "OCSP Seed Root" --intermediate --no-passphrase >/dev/null
"$SIGNET" issue good --dir oca --profile client >/dev/null
"$SIGNET" issue bad --dir oca --profile client >/dev/null
"$SIGNET" revoke bad.crt --dir oca --reason keyCompromise >/dev/null
cat oca/intermediate.crt oca/root.crt >ochain.pem
respond() { # out request [respond args]
	local out=$1 req=$2
	shift 2
	"$SIGNET" ocsp respond --dir oca --request "$req" --validity 36500d --out "$out" "$@" \
		2>/dev/null
}
pack() { # seed options response request certs...
	local seed=$1 opt=$2 resp=$3 req=$4
	shift 4
	python3 - "$seed" "$opt" "$resp" "$req" "$@" <<'PY'
import sys
seed, opt, resp, req = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
r = open(resp, "rb").read()
q = open(req, "rb").read() if req != "-" else b""
with open(seed, "wb") as f:
    f.write(bytes([opt]) + len(r).to_bytes(2, "big") + r + len(q).to_bytes(2, "big") + q)
    for c in sys.argv[5:]:
        f.write(open(c, "rb").read())
PY
}
openssl ocsp -issuer oca/intermediate.crt -cert good.crt -reqout good-nonce.req >/dev/null
respond good-nonce.resp good-nonce.req
pack "$C/ocsp_response/good-nonce" 7 good-nonce.resp good-nonce.req good.crt ochain.pem
openssl ocsp -issuer oca/intermediate.crt -cert bad.crt -no_nonce -reqout bad.req >/dev/null
respond bad.resp bad.req
pack "$C/ocsp_response/revoked" 6 bad.resp - bad.crt ochain.pem
openssl ocsp -issuer oca/intermediate.crt -sha256 -cert good.crt -no_nonce -reqout g256.req >/dev/null
respond g256.resp g256.req
# SHA-256 CertID: the check asks with SHA-1, so this one "does not cover".
pack "$C/ocsp_response/sha256-certid" 2 g256.resp - good.crt ochain.pem
# unknown: a certificate naming our intermediate as its issuer (a CertID
# takes the issuer name from the certificate) that the CA never signed.
python3 - oca/intermediate.crt stranger.crt <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
inter = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
k = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime(2026, 1, 1)
c = (x509.CertificateBuilder().subject_name(x509.Name.from_rfc4514_string("CN=stranger"))
     .issuer_name(inter.subject).public_key(k.public_key())
     .serial_number(x509.random_serial_number()).not_valid_before(now)
     .not_valid_after(now + datetime.timedelta(days=36500)).sign(k, hashes.SHA256()))
open(sys.argv[2], "wb").write(c.public_bytes(Encoding.PEM))
PY
openssl ocsp -issuer oca/intermediate.crt -cert stranger.crt -no_nonce -reqout unknown.req >/dev/null
respond unknown.resp unknown.req
pack "$C/ocsp_response/unknown" 6 unknown.resp - stranger.crt ochain.pem
head -c 60 /dev/urandom >garbage.req
respond malformed.resp garbage.req || true
pack "$C/ocsp_response/malformed-request" 2 malformed.resp - good.crt ochain.pem
"$SIGNET" ocsp signer --dir oca >/dev/null
openssl ocsp -issuer oca/intermediate.crt -cert good.crt -reqout deleg.req >/dev/null
respond deleg.resp deleg.req
pack "$C/ocsp_response/delegated-nonce" 7 deleg.resp deleg.req good.crt ochain.pem
du -sh "$C/ocsp_response"

# show: each kind of file `signet show` reads, as the user has it (the key
# seeds without fuzz_key's passphrase prefix).
mkdir -p "$C/show"
cp "$C/certs/chain.pem" "$C/certs/leaf.pem" "$C/certs/ed25519.der" "$C/show/"
cp "$C/csr/ec.csr" "$C/csr/rsa.csr" "$C/show/" && cp "$C/csr/ec.der" "$C/show/csr.der"
[ -e "$C/crl/revoked.pem" ] && cp "$C/crl/revoked.pem" "$C/show/crl.pem"
[ -e "$C/crl/revoked.der" ] && cp "$C/crl/revoked.der" "$C/show/crl.der"
python3 - "$C" <<'PY'
import sys
c = sys.argv[1]
for src, dst in (("ec-plain", "key-ec.pem"), ("ed25519-plain", "key-ed25519.pem"),
                 ("ed25519-scrypt", "key-encrypted.pem")):
    d = open(f"{c}/key/{src}", "rb").read()
    n = 0 if d[0] == 0xff else d[0]
    open(f"{c}/show/{dst}", "wb").write(d[1 + n:])
PY
du -sh "$C/show"

# verify_cli: an option byte (see fuzz_verify_cli.c) + a chain with its
# root, so that the file is its own trust and chains verify at the
# target's fixed time inside their validity.
mkdir -p "$C/verify_cli"
openssl x509 -in alice.crt -outform DER -out alice.der
python3 - "$C" <<'PY'
import sys
c = sys.argv[1]
w = open("www.example.com.chain.pem", "rb").read()
a = open("alice.chain.pem", "rb").read()
root = open("ca/root.crt", "rb").read()
der = open("alice.der", "rb").read()
seeds = {"server-json-host": (0x2b, w + root), "server-text-host": (0x2a, w + root),
         "server-ip": (0x2c, w + root), "server-expired": (0x03, w + root),
         "client-email-json": (0x37, a + root), "root-depth-ku": (0xe1, root),
         "leaf-der-alone": (0x21, der)}
for n, (o, d) in seeds.items():
    open(f"{c}/verify_cli/{n}", "wb").write(bytes([o]) + d)
PY
du -sh "$C/verify_cli"
