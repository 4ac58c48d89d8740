#!/bin/bash
# t4060-ocsp-https-pki.sh - the fixture of the https:// OCSP scenarios
# (t4061, t6120, t6130): a real `signet ocsp serve` behind nginx with TLS on
# 127.0.0.1.  Sourced by them after lib.sh, t6000-tunnel-pki.sh and
# t4000-revocation-pki.sh; run on its own it checks with curl (an
# independent TLS client) and `openssl ocsp -respin` that the fixture is
# what they assume, so a broken fixture fails here, not as a confusing
# OCSP failure.
#
# TLS certificates for nginx, made after rev_pki by https_ocsp_certs:
#   ocsp-tls      issued by the revocation CA, SANs 127.0.0.1 and localhost
#   ocsp-wrong    issued by the revocation CA, SAN wrong.example only
#   ocsp-self     self-signed (no CA anyone trusts), SAN 127.0.0.1

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/lib.sh"
	. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
	. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
fi

https_ocsp_certs() {
	"$SIGNET" issue ocsp-tls --profile server --san ip:127.0.0.1 --san dns:localhost \
		--out-dir "$TRASH" >/dev/null 2>&1 &&
	"$SIGNET" issue ocsp-wrong --profile server --san dns:wrong.example \
		--out-dir "$TRASH" >/dev/null 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TRASH/ocsp-self.key" -out "$TRASH/ocsp-self.chain.pem" -subj /CN=ocsp-self \
		-days 2 -addext subjectAltName=IP:127.0.0.1 -addext extendedKeyUsage=serverAuth \
		2>/dev/null
}

# start_https_ocsp NAME PORT UPSTREAM-PORT CERT-STEM: nginx on
# 127.0.0.1:PORT, TLS with $TRASH/CERT-STEM.chain.pem and .key, proxying
# every request to the plain responder on UPSTREAM-PORT.
start_https_ocsp() {
	local name=$1 port=$2 up=$3 stem=$4
	start_nginx "$name" "server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $TRASH/$stem.chain.pem;
		ssl_certificate_key $TRASH/$stem.key;
		location / { proxy_pass http://127.0.0.1:$up; }
	}" || return 1
	wait_port 127.0.0.1 "$port" 200 || { cat "$TRASH/$name/logs/"*; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	command -v curl >/dev/null || test_skip_all "no curl"
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || test_skip_all "no nginx"
	OP=$(free_port) HP=$(free_port)
	# Started here, not inside a test body: a body runs in a subshell, so
	# the servers' test_on_exit cleanups would be lost and they would
	# outlive the test.
	fixture=broken
	rev_pki --ocsp-url "https://127.0.0.1:$HP/" && https_ocsp_certs &&
		start_ocsp ocsp "$OP" && start_https_ocsp ngx "$HP" "$OP" ocsp-tls && fixture=ok
	test_expect_success 'the fixture: a CA, nginx TLS certificates, a responder behind nginx' '
		test "$fixture" = ok
	'
	test_expect_success 'curl trusting the CA gets a verifiable OCSP answer through nginx' '
		openssl ocsp -issuer ca/intermediate.crt -cert a.crt -no_nonce -reqout req.der \
			>/dev/null &&
		curl -sS --max-time 10 --cacert ca/root.crt --data-binary @req.der \
			-H "Content-Type: application/ocsp-request" -o resp.der \
			"https://127.0.0.1:$HP/" &&
		openssl ocsp -respin resp.der -issuer ca/intermediate.crt -cert a.crt \
			-CAfile ca/root.crt -no_nonce 2>&1 | grep -q "a.crt: good"
	'
	test_expect_success 'openssl: ocsp-wrong does not cover 127.0.0.1, ocsp-self chains to no CA' '
		openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt ocsp-wrong.crt &&
		! openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt \
			-verify_ip 127.0.0.1 ocsp-wrong.crt 2>/dev/null &&
		! openssl verify -CAfile ca/root.crt ocsp-self.chain.pem 2>/dev/null
	'
	test_done
fi
