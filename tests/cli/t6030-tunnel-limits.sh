#!/bin/bash
# t6030-tunnel-limits.sh - hostile timing: a handshake that stalls
# (slowloris, silent or a byte at a time) is cut at --handshake-timeout, an
# idle relayed connection at --idle-timeout, and --max-conns refuses the
# connection beyond the limit; good clients keep getting through meanwhile.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_http_backend
start_echo_backend
P=$(free_port)
LOG=$TRASH/srv.log
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--handshake-timeout 1 --idle-timeout 2 --max-conns 5

# hold SECONDS [drip]: a TCP client that sends nothing (or one byte of a
# ClientHello every 0.3 s) and reports after how long the server hung up.
hold() {
	python3 - "$P" "$1" "${2:-}" <<'PY'
import socket, sys, time
port, limit, drip = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "drip"
s = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 500
s.settimeout(0.3)
i = 0
while time.time() - t0 < limit:
    try:
        if drip and i < len(hello):
            s.send(hello[i:i+1]); i += 1
        if s.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except ConnectionResetError:
        break
print("closed after %.1f" % (time.time() - t0))
PY
}

test_expect_success 'a silent client is cut after the handshake timeout' '
	hold 5 >out && cat out &&
	awk "{ exit !(\$3 >= 0.8 && \$3 < 3) }" out &&
	wait_log "$LOG" "outcome=timeout reason=handshake_timeout"
'

test_expect_success 'a client dripping a ClientHello byte by byte is cut too' '
	hold 5 drip >out && cat out &&
	awk "{ exit !(\$3 >= 0.8 && \$3 < 3) }" out
'

test_expect_success 'an idle relayed connection is closed after the idle timeout' '
	python3 - "$P" "$PKI" >out <<-PY &&
	import socket, ssl, sys, time
	ctx = ssl.create_default_context(cafile=sys.argv[2] + "/ca.crt")
	ctx.load_cert_chain(sys.argv[2] + "/billing.crt", sys.argv[2] + "/billing.key")
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
	s.sendall(b"ping"); assert s.recv(4) == b"ping"
	t0 = time.time(); s.settimeout(10)
	try:
	    d = s.recv(1)
	except (ConnectionResetError, ssl.SSLError):
	    d = b""
	print("idle close after %.1f" % (time.time() - t0), d)
	PY
	cat out && awk "{ exit !(\$4 >= 1.5 && \$4 < 5) }" out &&
	wait_log "$LOG" "client=\"CN=billing\" .*bytes_in=4 bytes_out=4 .*outcome=timeout reason=idle_timeout"
'

test_expect_success 'beyond --max-conns a connection is refused and logged; below it, served' '
	python3 - "$P" <<-PY &&
	import socket, sys, time
	# six at once from one process, so all are open within the handshake timeout
	socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(6)]
	time.sleep(0.5)
	for s in socks: s.close()
	PY
	wait_log "$LOG" "outcome=refused reason=connection_limit detail=\"more than 5 connections open\"" &&
	sleep 0.3 &&
	python3 - "$P" "$PKI" <<-PY
	import socket, ssl, sys
	ctx = ssl.create_default_context(cafile=sys.argv[2] + "/ca.crt")
	ctx.load_cert_chain(sys.argv[2] + "/billing.crt", sys.argv[2] + "/billing.key")
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
	s.sendall(b"after"); assert s.recv(5) == b"after"
	PY
'
test_done
