#!/bin/bash
# t6085-tunnel-workers.sh - the server tunnel as a master process and worker
# processes: --workers N forks N workers that share the port; /metrics sums
# them; --max-conns counts all workers together; a worker that dies is
# logged and started again while the others keep serving; a worker out of
# descriptors pauses accepting instead of spinning; a master killed with
# SIGKILL leaves no orphan worker behind.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"
command -v pgrep >/dev/null || test_skip_all "no pgrep"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_http_backend
start_echo_backend
P=$(free_port) S=$(free_port)
LOG=$TRASH/srv.log
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$BACKEND_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--workers 3 --status "127.0.0.1:$S" || exit 1
M=$TUNNEL_PID_srv
workers() { pgrep -P "$M" | sort; }
metric() { # NAME-REGEX: the value of the first matching metric line
	curl -sS --max-time 5 "http://127.0.0.1:$S/metrics" | grep -E "^$1" | head -1 | awk '{print $2}'
}

test_expect_success '--workers 3: three worker processes under the master' '
	for i in $(seq 50); do test "$(workers | wc -l)" = 3 && break; sleep 0.1; done &&
	test "$(workers | wc -l)" = 3
'

test_expect_success 'connections are spread over the workers, and /metrics sums them' '
	before=$(metric "signet_tunnel_connections_total") &&
	for i in $(seq 30); do tcurl $P billing >out.txt || exit 1; done &&
	grep -q "hello from the backend" out.txt &&
	wait_log "$LOG" "conn .*worker=0 " && wait_log "$LOG" "conn .*worker=1 " &&
	wait_log "$LOG" "conn .*worker=2 " &&
	after=$(metric "signet_tunnel_connections_total") &&
	echo "connections_total $before -> $after" && test $((after - before)) = 30 &&
	test "$(metric "signet_tunnel_connections_active")" = 0 &&
	test "$(metric "signet_tunnel_handshakes_total")" -ge 30
'

test_expect_success 'every log line is whole (one write per line, several writers)' '
	for i in $(seq 10); do tcurl $P billing >/dev/null & done; wait &&
	for i in $(seq 50); do test "$(grep -c "outcome=ok" "$LOG")" -ge 40 && break; sleep 0.1; done &&
	! grep -v -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z signet-tunnel: " "$LOG"
'

test_expect_success 'a worker killed with SIGKILL is logged and replaced; service goes on' '
	victim=$(workers | head -1) &&
	kill -KILL $victim &&
	wait_log "$LOG" "worker [0-9] \\(pid $victim\\) was killed by signal 9 .*; starting a new one" &&
	for i in $(seq 50); do
		test "$(workers | wc -l)" = 3 && ! workers | grep -qx "$victim" && break
		sleep 0.1
	done &&
	test "$(workers | wc -l)" = 3 && ! workers | grep -qx "$victim" &&
	for i in $(seq 12); do tcurl $P billing >out.txt || exit 1; done &&
	grep -q "hello from the backend" out.txt
'

# hold N: N TLS connections through to the echo backend, kept open until
# stdin closes; prints "open K" once K of them are up.
P2=$(free_port)
start_tunnel lim server --listen "127.0.0.1:$P2" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--workers 2 --max-conns 4 || exit 1
test_expect_success '--max-conns counts the connections of all workers together' '
	python3 - "$P2" "$PKI" >lim.out <<-PY &&
	import socket, ssl, sys, time
	port, pki = int(sys.argv[1]), sys.argv[2]
	ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
	ctx.load_cert_chain(pki + "/billing.crt", pki + "/billing.key")
	held = []
	for i in range(4):
	    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
	    s.sendall(b"ping"); assert s.recv(4) == b"ping"
	    held.append(s)
	refused = 0
	for i in range(10):
	    try:
	        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
	        s.settimeout(3); s.sendall(b"ping")
	        if s.recv(4) != b"ping": refused += 1
	    except (OSError, ssl.SSLError):
	        refused += 1
	print("held %d refused %d of 10" % (len(held), refused))
	PY
	cat lim.out && grep -q "held 4 refused 10 of 10" lim.out &&
	wait_log "$TRASH/lim.log" "reason=connection_limit detail=\"more than 4 connections open\"" &&
	grep "reason=connection_limit" "$TRASH/lim.log" | grep -q "worker=0" &&
	grep "reason=connection_limit" "$TRASH/lim.log" | grep -q "worker=1"
'

# A worker out of file descriptors pauses accepting instead of spinning on
# the readable listening socket, and takes connections again once some
# have closed.
printf '#!/bin/sh\nulimit -n 48\nexec "%s" "$@"\n' "$SIGNET" >"$TRASH/fewfds"
chmod +x "$TRASH/fewfds"
P3=$(free_port)
REAL_SIGNET=$SIGNET SIGNET=$TRASH/fewfds
start_tunnel few server --listen "127.0.0.1:$P3" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--workers 1 || exit 1
SIGNET=$REAL_SIGNET
test_expect_success 'out of descriptors: accepts pause (no spinning), and resume' '
	W=$(pgrep -P $TUNNEL_PID_few) && test -n "$W" &&
	python3 - "$P3" "$PKI" "$W" >few.out <<-PY &&
	import socket, ssl, sys, time
	port, pki, w = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
	ctx.load_cert_chain(pki + "/billing.crt", pki + "/billing.key")
	def cpu():
	    f = open("/proc/%s/stat" % w).read().rsplit(")", 1)[1].split()
	    return (int(f[11]) + int(f[12])) / 100.0
	held, raw = [], []
	for i in range(30):
	    try:
	        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=2), server_hostname="localhost")
	        s.sendall(b"ping")
	        if s.recv(4) != b"ping": break
	        held.append(s)
	    except (OSError, ssl.SSLError):
	        break
	# the descriptors are used up: these wait in the backlog
	for i in range(3):
	    raw.append(socket.create_connection(("127.0.0.1", port)))
	c0 = cpu(); time.sleep(2); c1 = cpu()
	print("held %d cpu_while_full %.2f" % (len(held), c1 - c0))
	for s in held + raw: s.close()
	time.sleep(1)
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
	s.sendall(b"ping"); print("after: %r" % s.recv(4))
	PY
	cat few.out &&
	grep -q "after: b.ping." few.out &&
	awk "/cpu_while_full/ { exit !(\$4 + 0 < 0.5) }" few.out &&
	grep -q "worker 0: accept: Too many open files .*pausing new connections" "$TRASH/few.log"
'

test_expect_success 'a master killed with SIGKILL leaves no orphan worker' '
	kids=$(workers) && test -n "$kids" &&
	kill -KILL $M &&
	for i in $(seq 100); do
		left=0; for k in $kids; do kill -0 $k 2>/dev/null && left=1; done
		test $left = 0 && break; sleep 0.1
	done &&
	test $left = 0 &&
	! (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null
'
test_expect_success 'SIGTERM: master and workers exit cleanly (and, sanitized, without a report)' '
	L=$TUNNEL_PID_lim && kids=$(pgrep -P $L) && test -n "$kids" &&
	kill -TERM $L &&
	wait_log "$TRASH/lim.log" "stopped: [0-9]+ connections served, 0 open at exit" 200 &&
	for i in $(seq 100); do kill -0 $L 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 $L 2>/dev/null &&
	for k in $kids; do ! kill -0 $k 2>/dev/null || exit 1; done &&
	! grep -E "Sanitizer|runtime error" "$TRASH/lim.log" "$LOG" "$TRASH/few.log"
'
test_expect_success '--listen on port 0: both workers on the one port the kernel chose, which the log names' '
	"$SIGNET" tunnel server --listen 127.0.0.1:0 --to "127.0.0.1:$BACKEND_PORT" \
		--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
		--workers 2 2>"$TRASH/zero.log" & zp=$! &&
	for i in $(seq 100); do grep -q "listening on 127.0.0.1:[1-9]" "$TRASH/zero.log" && break; sleep 0.1; done &&
	zport=$(sed -n "s/.*listening on 127.0.0.1:\([0-9]*\),.*/\1/p" "$TRASH/zero.log") &&
	for i in $(seq 50); do
		n=$(grep -c ":$(printf %04X "$zport") 00000000:0000 0A" /proc/net/tcp) && test "$n" = 2 && break
		sleep 0.1
	done &&
	tcurl "$zport" billing >z.txt; r=$?; kill $zp; wait $zp
	test "$r" = 0 && test "$n" = 2 && grep -q "hello from the backend" z.txt
'
test_done
