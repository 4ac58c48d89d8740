#!/bin/bash
# t6070-tunnel-drain.sh - SIGTERM: the tunnel stops accepting at once,
# /healthz turns 503, connections already open finish their work, and the
# process exits when the last one ends; one that outstays --drain-timeout
# is closed (reason shutdown) and the process still exits.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_echo_backend

# client PORT SECONDS: a verified client doing round trips for SECONDS.
client() {
	python3 - "$1" "$PKI" "$2" <<'PY'
import socket, ssl, sys, time
port, pki, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/billing.crt", pki + "/billing.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
t0, n = time.time(), 0
print("connected", flush=True)
while time.time() - t0 < secs:
    s.sendall(b"ping"); d = s.recv(4)
    if d != b"ping": print("lost after %d" % n); sys.exit(1)
    n += 1; time.sleep(0.05)
s.close()
print("done %d round trips" % n)
PY
}
alive() { kill -0 "$1" 2>/dev/null; }

P=$(free_port)
S=$(free_port)
start_tunnel a server --listen "127.0.0.1:$P" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--drain-timeout 20 --status "127.0.0.1:$S"
A=$TUNNEL_PID_a

test_expect_success 'SIGTERM: open connections finish, new ones are refused, then exit' '
	client $P 2.5 >long.out &
	wait_log long.out connected &&
	kill -TERM $A &&
	wait_log "$TRASH/a.log" "SIGTERM: no longer accepting; draining 1 connections" &&
	! python3 -c "import socket; socket.create_connection((\"127.0.0.1\", $P), timeout=2)" 2>/dev/null &&
	test "$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$S/healthz)" = 503 &&
	alive $A &&
	wait_log long.out "done [0-9]+ round trips" 100 &&
	for i in $(seq 60); do alive $A || break; sleep 0.1; done &&
	! alive $A &&
	grep -q "stopped: 2 connections served, 0 open at exit" "$TRASH/a.log"
'

P2=$(free_port)
start_tunnel b server --listen "127.0.0.1:$P2" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--drain-timeout 1
B=$TUNNEL_PID_b

test_expect_success 'a connection outlasting --drain-timeout is closed and the process exits' '
	client $P2 30 >stuck.out &
	wait_log stuck.out connected &&
	start=$(date +%s%N) &&
	kill -TERM $B &&
	for i in $(seq 100); do alive $B || break; sleep 0.05; done &&
	! alive $B &&
	elapsed=$(( ($(date +%s%N) - start) / 1000000 )) &&
	echo "exited after ${elapsed}ms" &&
	test $elapsed -ge 900 && test $elapsed -lt 4000 &&
	grep -q "drain deadline reached, closing 1 remaining connections" "$TRASH/b.log" &&
	grep -q "client=\"CN=billing\" .*reason=shutdown" "$TRASH/b.log" &&
	wait_log stuck.out "lost after"
'
test_done
