#!/bin/bash
# t4030-ocsp-bad-input.sh - the responder under bad input: garbage,
# oversized and truncated requests, another CA's certificate, a hash it
# does not know, malformed HTTP, clients that never send, send one byte a
# second or close at once.  Each gets an RFC 6960 error status or an HTTP
# error, and the responder keeps answering good requests meanwhile.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
[ -n "$PYTHON" ] || test_skip_all "no python3"

rev_pki || { echo "cannot create the CA"; exit 1; }
P=$(free_port)
start_ocsp srv "$P" --request-timeout 2 --idle-timeout 3 || { cat srv.log; exit 1; }
openssl ocsp -issuer ca/intermediate.crt -cert a.crt -no_nonce -reqout good.der >/dev/null

# post FILE -> the OCSP response status line printed by openssl
post() {
	curl -sS --max-time 10 --data-binary @"$1" -H "Content-Type: application/ocsp-request" \
		-o resp.der -w "%{http_code}" "http://127.0.0.1:$P/" >code.txt &&
	grep -qx 200 code.txt &&
	openssl ocsp -respin resp.der -resp_text -noverify 2>&1 | tr A-Z a-z
}
still_good() { ocsp_ask a.crt $P | grep -q "a.crt: good"; }

test_expect_success 'garbage body: malformedRequest' '
	head -c 200 /dev/urandom >garbage.der &&
	post garbage.der | grep -q malformedrequest && still_good
'
test_expect_success 'truncated DER request: malformedRequest' '
	head -c 40 good.der >trunc.der &&
	post trunc.der | grep -q malformedrequest && still_good
'
test_expect_success 'a request for another CA'"'"'s certificate: unauthorized' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout o.key \
		-out o.crt -subj /CN=other -days 1 2>/dev/null &&
	openssl ocsp -issuer o.crt -cert o.crt -reqout other.der >/dev/null &&
	post other.der | grep -q unauthorized && still_good
'
test_expect_success 'a CertID hash the responder does not know (SHA-224): unauthorized' '
	openssl ocsp -issuer ca/intermediate.crt -sha224 -cert a.crt -reqout h.der >/dev/null &&
	post h.der | grep -q unauthorized && still_good
'
test_expect_success 'SHA-256 CertIDs are answered' '
	openssl ocsp -issuer ca/intermediate.crt -sha256 -cert a.crt -url http://127.0.0.1:$P \
		-CAfile ca/root.crt 2>&1 | grep -q "a.crt: good"
'
test_expect_success 'an oversized body is refused with 413 before it is read whole' '
	head -c 200000 /dev/zero >big.der &&
	code=$(curl -s --max-time 10 --data-binary @big.der -o /dev/null -w "%{http_code}" \
		http://127.0.0.1:$P/ || true) &&
	test "$code" = 413 -o "$code" = 000 && still_good
'
test_expect_success 'malformed HTTP: bad request line, chunked body, huge header, bad method' '
	"$PYTHON" - $P <<-PY
	import socket, sys
	port = int(sys.argv[1])
	def ask(data):
	    s = socket.create_connection(("127.0.0.1", port), timeout=10)
	    s.sendall(data)
	    out = b""
	    while True:
	        b = s.recv(4096)
	        if not b: break
	        out += b
	    s.close()
	    return out.split(b"\r\n")[0]
	assert b" 400 " in ask(b"HELLO\r\n\r\n"), "bad line"
	assert b" 501 " in ask(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	assert b" 431 " in ask(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
	assert b" 405 " in ask(b"DELETE / HTTP/1.1\r\n\r\n")
	assert b" 411 " in ask(b"POST / HTTP/1.1\r\n\r\n")
	PY
	still_good
'
test_expect_success 'silent, slow and vanishing clients do not stall others and are cut off' '
	"$PYTHON" - $P good.der <<-PY
	import socket, sys, time, subprocess
	port = int(sys.argv[1]); good = open(sys.argv[2], "rb").read()
	req = b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(good) + good
	silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
	for _ in range(50):                      # connect and close at once
	    socket.create_connection(("127.0.0.1", port)).close()
	slow = socket.create_connection(("127.0.0.1", port))
	t0 = time.time(); cut = False
	for i in range(8):                       # one byte a second, at most 8 s
	    try:
	        slow.sendall(req[i:i+1])
	        # a good client is served quickly meanwhile
	        c = socket.create_connection(("127.0.0.1", port), timeout=5)
	        c.sendall(req); r = c.recv(65536); c.close()
	        assert r.startswith(b"HTTP/1.1 200"), r[:40]
	        time.sleep(1)
	    except (BrokenPipeError, ConnectionResetError):
	        cut = True; break
	    slow.settimeout(0.01)
	    try:
	        if slow.recv(1) == b"": cut = True; break
	    except socket.timeout: pass
	    except ConnectionResetError: cut = True; break
	assert cut, "the one-byte-a-second client was not cut off"
	assert time.time() - t0 < 6, "cut off too late"
	for s in silent:                          # silent ones closed by now
	    s.settimeout(3)
	    assert s.recv(1) == b""
	PY
	still_good
'
test_expect_success 'the responder is still alive and answering' '
	kill -0 $srv_PID && still_good
'
test_done
