#!/bin/bash
# t0810-hardening.sh - hostile details: a CSR whose SAN extension is
# malformed is refused (not signed as if it had no SANs), terminal control
# characters in certificate fields are not printed raw, and a bad option is
# one line on every command.
. "$(dirname "$0")/lib.sh"
[ -n "$PYTHON" ] || test_skip_all "no python3 with cryptography"

test_expect_success 'setup: a CA' '
	$SIGNET init --dir ca --name "Hardening Root" --no-passphrase 2>/dev/null >/dev/null
'

test_expect_success 'a CSR with a malformed subjectAltName is refused (exit 4)' '
	"$PYTHON" - <<-PY &&
	from cryptography import x509
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.hazmat.primitives.asymmetric import ec
	from cryptography.x509.oid import NameOID
	k = ec.generate_private_key(ec.SECP256R1())
	bad = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.17"), b"\x30\x05\x82\x09ab")
	csr = (x509.CertificateSigningRequestBuilder()
	       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web")]))
	       .add_extension(bad, critical=False).sign(k, hashes.SHA256()))
	open("bad-san.csr", "wb").write(csr.public_bytes(serialization.Encoding.PEM))
	PY
	c=0; $SIGNET sign bad-san.csr --dir ca --profile client --out x.crt 2>err || c=$?
	test $c = 4 && test $(wc -l <err) = 1 && grep -q "subjectAltName extension is malformed" err &&
	test ! -e x.crt
'

test_expect_success 'show does not print terminal control characters from a certificate' '
	"$PYTHON" - <<-PY &&
	import datetime
	from cryptography import x509
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.hazmat.primitives.asymmetric import ec
	from cryptography.x509.oid import NameOID
	k = ec.generate_private_key(ec.SECP256R1())
	n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b]0;pwned\x07name")])
	now = datetime.datetime(2026, 1, 1)
	c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
	     .serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
	     .sign(k, hashes.SHA256()))
	open("evil.crt", "wb").write(c.public_bytes(serialization.Encoding.PEM))
	PY
	$SIGNET show evil.crt >out &&
	grep -q "evil" out && ! grep -q $(printf "\x1b") out && ! grep -q $(printf "\x07") out
'

for cmd in "key new" csr init sign issue show list export revoke crl "ocsp serve" verify "tunnel server"; do
	test_expect_code 2 "signet $cmd: an unknown option is one line, exit 2" "
		c=0; \$SIGNET $cmd --no-such-option 2>err || c=\$?
		test \$(wc -l <err) = 1 && grep -q -- 'no-such-option' err; r=\$?; test \$r = 0 || exit 99; exit \$c
	"
done

test_done
