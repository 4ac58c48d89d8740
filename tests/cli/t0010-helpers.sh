#!/bin/bash
# t0010-helpers.sh - helpers shared by the offline-CA scenarios (t00xx-t09xx).
# Sourced by them after lib.sh; run on its own, it checks that the helpers
# themselves can fail, so that a scenario passing means something.
#
#   expect_fail CODE REGEX CMD...  CMD exits with CODE (never a signal), and
#                                  prints exactly one line on stderr matching
#                                  REGEX (extended grep)
#   ca_init DIR [init options...]  a CA with root + intermediate, encrypted
#                                  with the test passphrase ($SIGNET_PASS_FILE)
#   req_ok CSR [req options]       openssl says the CSR signature verifies
#   mkcsr NAME SUBJECT [SANS]      NAME.key + NAME.csr made with openssl, the
#                                  independent implementation
#   py_check_cert PROFILE ISSUER CERT...  Python cryptography loads each
#                                  certificate and checks serial and extensions

[ "${BASH_SOURCE[0]}" = "$0" ] && . "$(dirname "$0")/lib.sh"

# pyenv shims cost ~0.3 s per start: call the interpreter behind them.
if [ -n "${PYTHON:-}" ]; then
	PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$PYTHON")
	export PYTHON
fi

expect_fail() {
	local want=$1 pat=$2 got=0 n
	shift 2
	"$@" >"$TRASH/.fail.out" 2>"$TRASH/.fail.err" || got=$?
	if [ "$got" != "$want" ]; then
		echo "expected exit $want, got $got from: $*"
		cat "$TRASH/.fail.err"
		return 1
	fi
	n=$(wc -l <"$TRASH/.fail.err")
	if [ "$n" != 1 ]; then
		echo "expected one line on stderr, got $n:"
		cat "$TRASH/.fail.err"
		return 1
	fi
	if ! grep -qE -- "$pat" "$TRASH/.fail.err"; then
		echo "stderr does not match /$pat/:"
		cat "$TRASH/.fail.err"
		return 1
	fi
	return 0
}

# openssl 3.0 `req -verify` exits 0 even when the signature is bad: look
# for its "verify OK".
req_ok() { # csr [openssl req options]
	local f=$1
	shift
	openssl req -in "$f" "$@" -verify -noout 2>&1 | grep -q "verify OK"
}

ca_init() { # dir [options]
	local dir=$1
	shift
	[ -n "${SIGNET_PASS_FILE:-}" ] || use_test_passphrase
	"$SIGNET" init --dir "$dir" --name "Test Root CA" --intermediate "$@" >/dev/null
}

mkcsr() { # name subject [sans]
	local ext=()
	[ $# -ge 3 ] && ext=(-addext "subjectAltName=$3")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "$2" "${ext[@]}" 2>/dev/null
}

# py_check_cert PROFILE ISSUER_CERT CERT...: profile is server, client, peer,
# sub-ca or any (skips the usage checks).
py_check_cert() {
	[ -n "$PYTHON" ] || { echo "no python cryptography"; return 1; }
	"$PYTHON" - "$@" <<'PY'
import sys
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID as E

profile, issuer_path = sys.argv[1], sys.argv[2]
issuer = x509.load_pem_x509_certificate(open(issuer_path, "rb").read())
issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
for path in sys.argv[3:]:
    c = x509.load_pem_x509_certificate(open(path, "rb").read())
    s = c.serial_number
    assert s > 0, f"{path}: serial {s} not positive"
    assert s.bit_length() >= 64, f"{path}: serial has only {s.bit_length()} bits"
    assert (s.bit_length() + 8) // 8 <= 20, f"{path}: serial longer than 20 octets"
    assert c.version == x509.Version.v3
    ext = c.extensions
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == issuer_ski, f"{path}: AKI does not match the issuer's SKI"
    assert c.issuer == issuer.subject, f"{path}: issuer name mismatch"
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical, f"{path}: keyUsage not critical"
    ku = ku.value
    if profile == "any":
        continue
    if profile == "sub-ca":
        assert bc.value.ca and bc.value.path_length == 0, f"{path}: {bc.value}"
        assert ku.key_cert_sign and ku.crl_sign
        try:
            ext.get_extension_for_class(x509.ExtendedKeyUsage)
            raise AssertionError(f"{path}: sub-ca has an EKU")
        except x509.ExtensionNotFound:
            pass
        continue
    assert not bc.value.ca, f"{path}: leaf is a CA"
    assert ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign
    eku = set(ext.get_extension_for_class(x509.ExtendedKeyUsage).value)
    want = {"server": {E.SERVER_AUTH}, "client": {E.CLIENT_AUTH},
            "peer": {E.SERVER_AUTH, E.CLIENT_AUTH}}[profile]
    assert eku == want, f"{path}: EKU {eku} != {want}"
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    if profile != "client":
        assert san.get_values_for_type(x509.DNSName) or san.get_values_for_type(x509.IPAddress)
print("ok", len(sys.argv) - 3)
PY
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	test_expect_success 'expect_fail accepts the right code and one line' '
		expect_fail 3 "nope" sh -c "echo nope >&2; exit 3"
	'
	test_expect_success 'expect_fail refuses a wrong code' '
		! expect_fail 3 "nope" sh -c "echo nope >&2; exit 4"
	'
	test_expect_success 'expect_fail refuses two lines on stderr' '
		! expect_fail 3 "nope" sh -c "echo nope >&2; echo more >&2; exit 3"
	'
	test_expect_success 'expect_fail refuses a message that does not match' '
		! expect_fail 3 "wanted" sh -c "echo nope >&2; exit 3"
	'
	test_expect_success 'ca_init makes a CA, mkcsr a CSR openssl verifies' '
		ca_init ca &&
		test -f ca/signet.json && test -f ca/intermediate.crt &&
		mkcsr x "/CN=x" "DNS:x.example" &&
		req_ok x.csr
	'
	test_expect_success 'req_ok fails on a CSR with a flipped signature bit' '
		openssl req -in x.csr -outform DER -out x.der &&
		$PYTHON -c "d=bytearray(open(\"x.der\",\"rb\").read()); d[-3]^=1; open(\"y.der\",\"wb\").write(d)" &&
		! req_ok y.der -inform DER
	'
	test_expect_success 'py_check_cert fails on a self-signed openssl cert without AKI' '
		test -n "$PYTHON" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout s.key -out s.crt -subj /CN=s -days 1 \
			-addext subjectKeyIdentifier=hash -addext authorityKeyIdentifier=none 2>/dev/null &&
		! py_check_cert server s.crt s.crt
	'
	test_done
fi
