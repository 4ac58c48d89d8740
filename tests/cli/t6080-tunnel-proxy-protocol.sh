#!/bin/bash
# t6080-tunnel-proxy-protocol.sh - --proxy-protocol: the backend receives
# a PROXY protocol v2 header (parsed here by an independent Python reader
# of HAProxy's spec) with the client's address and port, and the SSL TLV
# saying the client presented a certificate that verified, with its CN,
# TLS version and cipher, before the client's own bytes.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
B=$(free_port)
python3 - "$B" >backend.log 2>&1 <<'PY' &
import json, socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
def read(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d: raise EOFError
        b += d
    return b
def tlvs(b):
    out = []
    while b:
        t, l = b[0], struct.unpack("!H", b[1:3])[0]
        out.append((t, b[3:3 + l])); b = b[3 + l:]
    return out
while True:
    c, _ = s.accept()
    try:
        h = read(c, 16)
        assert h[:12] == b"\r\n\r\n\x00\r\nQUIT\n", h
        ver_cmd, fam, ln = h[12], h[13], struct.unpack("!H", h[14:16])[0]
        body = read(c, ln)
        r = {"version": ver_cmd >> 4, "command": ver_cmd & 15, "family": fam}
        if fam == 0x11:
            r["src"] = socket.inet_ntoa(body[0:4]); r["dst"] = socket.inet_ntoa(body[4:8])
            r["sport"], r["dport"] = struct.unpack("!HH", body[8:12]); rest = body[12:]
        else:
            rest = b""
        for t, v in tlvs(rest):
            if t == 0x20:
                r["ssl_client"] = v[0]; r["ssl_verify"] = struct.unpack("!I", v[1:5])[0]
                for st, sv in tlvs(v[5:]):
                    r["ssl_%02x" % st] = sv.decode()
            else:
                r["tlv_%02x" % t] = v.decode()
        first = c.recv(100)
        c.sendall(json.dumps(r).encode() + b"\n" + first)
    except Exception as e:
        c.sendall(("error %r\n" % e).encode())
    c.close()
PY
test_on_exit "kill $!"
wait_port 127.0.0.1 $B
P=$(free_port)
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$B" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--proxy-protocol

test_expect_success 'the backend gets a v2 header with address, SSL TLV and CN, then the data' '
	python3 - $P "$PKI" >out <<-PY &&
	import json, socket, ssl, sys
	ctx = ssl.create_default_context(cafile=sys.argv[2] + "/ca.crt")
	ctx.load_cert_chain(sys.argv[2] + "/billing.crt", sys.argv[2] + "/billing.key")
	raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s = ctx.wrap_socket(raw, server_hostname="localhost")
	s.sendall(b"payload")
	data = b""
	while True:
	    d = s.recv(4096)
	    if not d: break
	    data += d
	line, rest = data.split(b"\n", 1)
	r = json.loads(line)
	print(line.decode()); print("rest", rest.decode())
	assert r["version"] == 2 and r["command"] == 1 and r["family"] == 0x11, r
	assert r["src"] == "127.0.0.1" and r["sport"] == s.getsockname()[1], r
	assert r["dport"] == int(sys.argv[1]), r
	assert r["ssl_client"] & 0x03 == 0x03 and r["ssl_verify"] == 0, r
	assert r["ssl_22"] == "billing", r
	assert r["ssl_21"] == "TLSv1.3" and r["ssl_23"].startswith("TLS_"), r
	assert r["tlv_02"] == "localhost", r
	assert rest == b"payload", rest
	PY
	cat out
'
test_done
