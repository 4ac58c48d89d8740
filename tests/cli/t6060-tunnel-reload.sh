#!/bin/bash
# t6060-tunnel-reload.sh - reloading credentials under traffic: a new CRL
# (seen by the file poll) takes effect for new connections, SIGHUP reloads,
# a bad file is rejected with a log line and the old credentials kept, a
# rotated server certificate is served to new connections - and through
# all of it no connection, old or new, fails.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
_tunnel_issue "$PKI/ca" server2 localhost server_ext "DNS:localhost,IP:127.0.0.1"
start_echo_backend
mkdir live
cp "$PKI/server.crt" live/server.crt
cp "$PKI/server.key" live/server.key
cp "$PKI/crl0.pem" live/crl.pem
P=$(free_port)
LOG=$TRASH/srv.log
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$ECHO_PORT" \
	--cert live/server.crt --key live/server.key --client-ca "$PKI/ca.crt" \
	--crl live/crl.pem --reload-interval 0.3 --workers 2
PID=$TUNNEL_PID_srv

# Traffic for the whole scenario: 4 long-lived connections doing round
# trips, and a stream of new connections, until the file "stop" appears.
python3 - "$P" "$PKI" "$TRASH" >traffic.out 2>&1 <<'PY' &
import os, socket, ssl, sys, threading, time
port, pki, trash = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/billing.crt", pki + "/billing.key")
errors, rts, news = [], [0], [0]
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                           server_hostname="localhost")
def rt(s, i):
    msg = b"m%06d" % i
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = s.recv(64)
        if not d: raise Exception("closed")
        got += d
    if got != msg: raise Exception("bad echo")
def long_lived():
    try:
        s = conn(); i = 0
        while not os.path.exists(trash + "/stop"):
            rt(s, i); i += 1; rts[0] += 1; time.sleep(0.02)
        s.close()
    except Exception as e:
        errors.append("long: %r" % e)
def new_conns():
    i = 0
    while not os.path.exists(trash + "/stop"):
        try:
            s = conn(); rt(s, i); s.close(); news[0] += 1
        except Exception as e:
            errors.append("new: %r" % e)
        i += 1
ts = [threading.Thread(target=long_lived) for _ in range(4)] + [threading.Thread(target=new_conns)]
for t in ts: t.start()
for t in ts: t.join()
print("round trips %d, new connections %d, errors %d" % (rts[0], news[0], len(errors)))
for e in errors[:10]: print(e)
PY
TRAFFIC=$!
test_on_exit "kill $TRAFFIC"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//'; }
served_serial() {
	echo | timeout 10 openssl s_client -connect 127.0.0.1:$P -servername localhost \
		-cert "$PKI/billing.crt" -key "$PKI/billing.key" 2>/dev/null |
		openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//'
}

test_expect_success 'before the new CRL, the soon-revoked certificate passes' '
	sleep 0.5 &&
	python3 -c "
import socket, ssl
ctx = ssl.create_default_context(cafile=\"$PKI/ca.crt\")
ctx.load_cert_chain(\"$PKI/revoked.crt\", \"$PKI/revoked.key\")
s = ctx.wrap_socket(socket.create_connection((\"127.0.0.1\", $P)), server_hostname=\"localhost\")
s.sendall(b\"x\"); assert s.recv(1) == b\"x\"
"
'

test_expect_success 'a new CRL file is picked up by the poll and enforced' '
	cp "$PKI/crl.pem" live/crl.pem.new && mv live/crl.pem.new live/crl.pem &&
	wait_log "$LOG" "reloaded credentials \\(files changed\\)" &&
	! tcurl $P revoked >/dev/null 2>&1 &&
	wait_log "$LOG" "client=\"CN=revoked\" .*reason=revoked"
'

test_expect_success 'a corrupt CRL is rejected, logged, and the old one kept' '
	echo "not a crl" >live/crl.pem &&
	wait_log "$LOG" "reload \\(files changed\\) failed, keeping the previous credentials: live/crl.pem" &&
	n=$(grep -c "reason=revoked" "$LOG") &&
	! tcurl $P revoked >/dev/null 2>&1 &&
	wait_log "$LOG" "reason=revoked" &&
	test $(grep -c "reason=revoked" "$LOG") -gt $n
'

test_expect_success 'a key that does not match the certificate is rejected' '
	cp "$PKI/crl.pem" live/crl.pem &&
	cp "$PKI/server2.crt" live/server.crt &&
	wait_log "$LOG" "failed, keeping the previous credentials: .*does not match" &&
	test "$(served_serial)" = "$(serial_of "$PKI/server.crt")"
'

test_expect_success 'SIGHUP with the matching key rotates the served certificate' '
	cp "$PKI/server2.key" live/server.key.new &&
	mv live/server.key.new live/server.key &&
	kill -HUP $PID &&
	for i in $(seq 100); do
		test "$(served_serial)" = "$(serial_of "$PKI/server2.crt")" && break
		sleep 0.1
	done &&
	test "$(served_serial)" = "$(serial_of "$PKI/server2.crt")" &&
	grep -Eq "reloaded credentials \\((SIGHUP|files changed)\\)" "$LOG"
'

test_expect_success 'no connection was lost during the reloads' '
	sleep 1 && : >stop &&
	wait_log traffic.out "round trips" 200 &&
	cat traffic.out &&
	grep -q "errors 0" traffic.out &&
	grep -Eq "round trips [0-9]{2,}, new connections [0-9]{2,}" traffic.out
'
test_done
