#!/bin/bash
# t4020-ocsp-serve.sh - `signet ocsp serve` answering `openssl ocsp`:
# good, revoked with time and reason, unknown (another CA's serial under our
# issuer), nonce echoed, a revocation by another process showing up, GET,
# a delegated signer, `ocsp respond` offline and `ocsp check`.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

P=$(free_port)
rev_pki --ocsp-url "http://127.0.0.1:$P" || { echo "cannot create the CA"; exit 1; }
"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null
start_ocsp srv "$P" || { cat srv.log; exit 1; }

test_expect_success 'good: openssl ocsp verifies the answer for a valid certificate' '
	ocsp_ask a.crt $P >out.txt &&
	grep -q "Response verify OK" out.txt && grep -q "a.crt: good" out.txt
'
test_expect_success 'revoked: with revocation time and reason' '
	ocsp_ask b.crt $P >out.txt &&
	grep -q "Response verify OK" out.txt && grep -q "b.crt: revoked" out.txt &&
	grep -q "Reason: keyCompromise" out.txt && grep -q "Revocation Time" out.txt
'
test_expect_success 'unknown: a serial this CA never issued' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout o.key \
		-out o.crt -subj /CN=other -days 1 2>/dev/null &&
	openssl ocsp -issuer ca/intermediate.crt -serial 0x0123456789 \
		-url http://127.0.0.1:$P -CAfile ca/root.crt >out.txt 2>&1 &&
	grep -q "Response verify OK" out.txt && grep -q "unknown" out.txt
'
test_expect_success 'the nonce is echoed (openssl checks it by default) and omitted without one' '
	ocsp_ask c.crt $P -resp_text >out.txt &&
	grep -q "OCSP Nonce" out.txt && ! grep -qi "nonce.*mismatch\|no nonce" out.txt &&
	ocsp_ask c.crt $P -no_nonce -resp_text >out2.txt &&
	grep -q "c.crt: good" out2.txt && ! grep -q "OCSP Nonce" out2.txt
'
test_expect_success 'a revocation made by another process appears (poll), cached answers replaced' '
	ocsp_ask c.crt $P -no_nonce | grep -q "c.crt: good" &&
	"$SIGNET" revoke c.crt --reason cessationOfOperation &&
	ok=0 && for i in $(seq 50); do
		if ocsp_ask c.crt $P -no_nonce | grep -q "c.crt: revoked"; then ok=1; break; fi
		sleep 0.1
	done && test $ok = 1 &&
	ocsp_ask c.crt $P -no_nonce | grep -q "Reason: cessationOfOperation"
'
test_expect_success 'a certificate issued after start is known (good), not unknown' '
	"$SIGNET" issue late --profile client >/dev/null 2>&1 &&
	ok=0 && for i in $(seq 50); do
		if ocsp_ask late.crt $P -no_nonce | grep -q "late.crt: good"; then ok=1; break; fi
		sleep 0.1
	done && test $ok = 1
'
test_expect_success 'GET with the base64 request in the path' '
	openssl ocsp -issuer ca/intermediate.crt -cert a.crt -no_nonce -reqout req.der >/dev/null &&
	b64=$(base64 -w0 req.der | sed "s/+/%2B/g; s#/#%2F#g; s/=/%3D/g") &&
	curl -sS --max-time 10 -o get.der "http://127.0.0.1:$P/$b64" &&
	openssl ocsp -respin get.der -issuer ca/intermediate.crt -cert a.crt -CAfile ca/root.crt \
		-no_nonce 2>&1 | grep -q "a.crt: good"
'
test_expect_success 'signet ocsp respond answers a request file offline' '
	"$SIGNET" ocsp respond --request req.der --out resp.der &&
	openssl ocsp -respin resp.der -issuer ca/intermediate.crt -cert a.crt -CAfile ca/root.crt \
		-no_nonce 2>&1 | grep -q "a.crt: good"
'
test_expect_success 'signet ocsp check: good (exit 0), revoked (exit 22), AIA URL by default' '
	"$SIGNET" ocsp check a.crt --issuer chain.pem >chk.txt && grep -q "good" chk.txt &&
	code=0 && { "$SIGNET" ocsp check b.crt --issuer chain.pem --url http://127.0.0.1:$P >chk2.txt || code=$?; } &&
	test "$code" = 22 && grep -q "revoked at .*(keyCompromise)" chk2.txt
'
test_expect_success 'a delegated OCSP signer (OCSPSigning, ocsp-nocheck) signs answers openssl accepts' '
	"$SIGNET" ocsp signer --days 30 &&
	openssl x509 -in ca/ocsp-signer.crt -noout -text >sg.txt &&
	grep -q "OCSP Signing" sg.txt && grep -q "OCSP No Check" sg.txt &&
	P2=$(free_port) && start_ocsp srv2 $P2 &&
	ocsp_ask b.crt $P2 -resp_text >out.txt &&
	grep -q "Response verify OK" out.txt && grep -q "b.crt: revoked" out.txt &&
	grep -q "OCSP Signer" out.txt
'
test_expect_success 'signet verify --ocsp on this CA: a good leaf passes; the intermediate, naming no responder, is not asked' '
	"$SIGNET" verify a.crt --chain ca/intermediate.crt --trust ca/root.crt --ocsp --json >v.json &&
	grep -q "names no OCSP responder: not asked" v.json &&
	{ "$SIGNET" verify b.crt --chain ca/intermediate.crt --trust ca/root.crt --ocsp 2>err;
	  test $? = 22; } && grep -q "revoked .* according to OCSP responder" err
'
test_expect_success 'a second responder on the same port fails (12); port 0 is a usage error (2)' '
	{ "$SIGNET" ocsp serve --listen "127.0.0.1:$P" 2>dup.err; test $? = 12; } &&
	grep -q "cannot listen on 127.0.0.1:$P: Address already in use" dup.err &&
	{ "$SIGNET" ocsp serve --listen 127.0.0.1:0 2>zero.err; test $? = 2; } &&
	grep -q "the port must be 1 to 65535" zero.err &&
	ocsp_ask a.crt $P | grep -q "a.crt: good"
'
test_expect_success 'unknown answers carry no nextUpdate (nobody caches them)' '
	openssl ocsp -issuer ca/intermediate.crt -serial 0x0123456789 -url http://127.0.0.1:$P \
		-CAfile ca/root.crt -resp_text >unk.txt 2>&1 &&
	grep -q "Cert Status: unknown" unk.txt && ! grep -q "Next Update" unk.txt &&
	ocsp_ask a.crt $P -resp_text | grep -q "Next Update"
'
test_expect_success 'SIGHUP rebuilds the index at once and leaves the responder running' '
	Q=$(free_port) && start_ocsp slow "$Q" --poll-ms 600000 &&
	"$SIGNET" issue later --profile client --out-dir "$TRASH" &&
	ocsp_ask later.crt $Q | grep -q "later.crt: unknown" &&
	kill -HUP $slow_PID && sleep 0.3 && kill -0 $slow_PID &&
	ocsp_ask later.crt $Q | grep -q "later.crt: good"
'
test_expect_success 'verify --crl FILE takes every CRL of a PEM bundle' '
	"$SIGNET" crl --out inter.crl 2>/dev/null && "$SIGNET" crl --issuer root --out root.crl 2>/dev/null &&
	cat inter.crl root.crl >both.crl && cat root.crl inter.crl >both2.crl &&
	"$SIGNET" verify a.crt --chain ca/intermediate.crt --trust ca/root.crt --crl both.crl &&
	"$SIGNET" verify a.crt --chain ca/intermediate.crt --trust ca/root.crt --crl both2.crl &&
	{ "$SIGNET" verify b.crt --chain ca/intermediate.crt --trust ca/root.crt --crl both2.crl 2>/dev/null;
	  test $? = 22; }
'
test_expect_success 'SIGTERM stops the responder cleanly' '
	kill -TERM $srv_PID && for i in $(seq 50); do kill -0 $srv_PID 2>/dev/null || break; sleep 0.1; done && ! kill -0 $srv_PID 2>/dev/null && grep -q "serving on" srv.log
'
test_done
