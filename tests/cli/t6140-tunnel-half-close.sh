#!/bin/bash
# t6140-tunnel-half-close.sh - bytes are never lost through the tunnels:
# a caller that sends everything and then half-closes (shutdown(SHUT_WR),
# as `nc -N`, rsync or a streaming upload do) still gets the whole answer,
# through signet tunnel client -> signet tunnel server -> an echo backend,
# for sizes from 1 byte to several MiB (back pressure on both legs), many
# at once.  The client tunnel passes the caller's end on as a TLS
# close_notify, the server tunnel as a TCP half-close to the backend.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_echo_backend
P=$(free_port)
C=$(free_port)
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--idle-timeout 20
start_tunnel cli client --listen "127.0.0.1:$C" --to "127.0.0.1:$P" \
	--cert "$PKI/billing.crt" --key "$PKI/billing.key" --ca "$PKI/ca.crt" \
	--server-name localhost --idle-timeout 20

# echo_check PORT SIZE...: one connection per size, all at once; each sends
# SIZE random bytes, half-closes and must read back exactly those bytes
# followed by the end of the stream.
echo_check() {
	python3 - "$@" <<'PY'
import os, socket, sys, threading
port, sizes = int(sys.argv[1]), [int(x) for x in sys.argv[2:]]
bad = []
def one(n):
    data = os.urandom(n)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    got = []
    def rd():
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got.append(b)
    t = threading.Thread(target=rd)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(60)
    back = b"".join(got)
    if back != data:
        bad.append("%d bytes sent, %d back%s" % (n, len(back),
                   "" if len(back) != n else " (different)"))
    s.close()
ts = [threading.Thread(target=one, args=(n,)) for n in sizes]
[t.start() for t in ts]
[t.join() for t in ts]
print("%d of %d intact" % (len(sizes) - len(bad), len(sizes)))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
}

test_expect_success 'client tunnel -> server tunnel -> echo: everything comes back after a half-close' '
	echo_check $C 1 100 4096 65536 70000 300000 4000000 >out; cat out &&
	grep -q "^7 of 7 intact" out
'

test_expect_success 'the same with twelve callers at once (pooled buffers, back pressure)' '
	echo_check $C 1 2 1000 16384 16385 65535 65536 65537 200000 1000000 3000000 5000000 >out &&
	cat out && grep -q "^12 of 12 intact" out
'

# (The probes of start_tunnel, which connect and close at once, are logged
# as closed_in_handshake; the 19 callers must all be ok on both tunnels.)
test_expect_success 'each tunnel logged the 19 callers as ok' '
	test "$(grep -c "outcome=ok" "$TRASH/srv.log")" -ge 19 &&
	test "$(grep -c "outcome=ok" "$TRASH/cli.log")" -ge 19
'

test_done
