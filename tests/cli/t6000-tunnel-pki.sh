#!/bin/bash
# t6000-tunnel-pki.sh - the test PKI and helpers of the tunnel scenarios
# (t6xxx).  Sourced by them after lib.sh; run on its own, it checks with
# `openssl verify` that the PKI is what the scenarios assume, so a broken
# fixture fails here rather than as a confusing tunnel failure.
#
# The PKI is made with the openssl CLI (an implementation independent of
# signet): two CAs ("ca" and a stranger "other"), a server certificate for
# localhost/127.0.0.1, a wrongly named server certificate, and client
# certificates: billing (allowed), web (valid but not in --allow lists),
# expired, revoked (with a CRL), rogue (CN=billing from the other CA) and
# serveronly (no clientAuth EKU); crl0.pem is the CA's CRL before the
# revocation, crl.pem after it.

[ "${BASH_SOURCE[0]}" = "$0" ] && . "$(dirname "$0")/lib.sh"

_tunnel_ca_cnf() { # dir
	cat >"$1/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $1
database = $1/index.txt
new_certs_dir = $1/newcerts
serial = $1/serial
crlnumber = $1/crlnumber
certificate = $1/ca.crt
private_key = $1/ca.key
default_md = sha256
policy = policy_any
default_days = 30
default_crl_days = 7
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = \$ENV::SAN
EOF
}

_tunnel_mkca() { # dir cn
	mkdir -p "$1/newcerts"
	: >"$1/index.txt"
	echo 1000 >"$1/serial"
	echo 01 >"$1/crlnumber"
	_tunnel_ca_cnf "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/ca.key" -out "$1/ca.crt" -subj "/CN=$2" -days 60 \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# _tunnel_issue CADIR NAME CN EXT SAN [startdate enddate]
_tunnel_issue() {
	local ca=$1 name=$2 cn=$3 ext=$4 san=$5 dates=()
	[ $# -ge 7 ] && dates=(-startdate "$6" -enddate "$7")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "/CN=$cn" 2>/dev/null
	SAN=$san openssl ca -batch -notext -config "$ca/ca.cnf" -extensions "$ext" \
		-in "$PKI/$name.csr" -out "$PKI/$name.crt" "${dates[@]}" 2>/dev/null
}

PKI=${TRASH:?source lib.sh first}/pki
export PKI

# Creates $PKI with every certificate the scenarios use.
tunnel_pki() {
	mkdir -p "$PKI"
	_tunnel_mkca "$PKI/ca" "Tunnel Test CA" &&
	_tunnel_mkca "$PKI/other" "Some Other CA" &&
	cp "$PKI/ca/ca.crt" "$PKI/ca.crt" &&
	_tunnel_issue "$PKI/ca" server localhost server_ext "DNS:localhost,IP:127.0.0.1" &&
	_tunnel_issue "$PKI/ca" wrongname wrong.example server_ext "DNS:wrong.example" &&
	_tunnel_issue "$PKI/ca" billing billing client_ext \
		"DNS:billing.internal,URI:spiffe://example.org/billing" &&
	_tunnel_issue "$PKI/ca" web web client_ext "DNS:web.internal,URI:spiffe://example.org/web" &&
	_tunnel_issue "$PKI/ca" expired expired client_ext "DNS:expired.internal" \
		20200101000000Z 20200201000000Z &&
	_tunnel_issue "$PKI/ca" revoked revoked client_ext "DNS:revoked.internal" &&
	_tunnel_issue "$PKI/ca" serveronly serveronly server_ext "DNS:serveronly.internal" &&
	_tunnel_issue "$PKI/other" rogue billing client_ext "DNS:billing.internal" &&
	SAN=none openssl ca -config "$PKI/ca/ca.cnf" -gencrl -out "$PKI/crl0.pem" 2>/dev/null &&
	SAN=none openssl ca -config "$PKI/ca/ca.cnf" -revoke "$PKI/revoked.crt" 2>/dev/null &&
	SAN=none openssl ca -config "$PKI/ca/ca.cnf" -gencrl -out "$PKI/crl.pem" 2>/dev/null
}

# A plain HTTP backend serving $TRASH/www; sets BACKEND_PORT.
start_http_backend() {
	mkdir -p "$TRASH/www"
	echo "hello from the backend" >"$TRASH/www/index.html"
	head -c 1048576 /dev/urandom >"$TRASH/www/big.bin"
	BACKEND_PORT=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$TRASH/www" "$BACKEND_PORT" \
		>"$TRASH/backend.log" 2>&1 &
	local pid=$!
	test_on_exit "kill $pid"
	wait_port 127.0.0.1 "$BACKEND_PORT"
}

# A plain TCP echo backend; sets ECHO_PORT.
start_echo_backend() {
	ECHO_PORT=$(free_port)
	python3 - "$ECHO_PORT" >"$TRASH/echo.log" 2>&1 <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	local pid=$!
	test_on_exit "kill $pid"
	wait_port 127.0.0.1 "$ECHO_PORT"
}

# start_tunnel NAME server|client ARGS...: runs `signet tunnel`, logging to
# $TRASH/NAME.log; sets TUNNEL_PID_<NAME>.  --listen must be in ARGS and is
# waited for.
start_tunnel() {
	local name=$1 mode=$2 port
	shift 2
	port=$(printf '%s\n' "$@" | sed -n '/^--listen$/{n;s/.*://p}')
	"$SIGNET" tunnel "$mode" "$@" >"$TRASH/$name.out" 2>"$TRASH/$name.log" &
	local pid=$!
	disown "$pid" # no job-status noise when the cleanup kills it
	eval "TUNNEL_PID_$name=$pid"
	test_on_exit "kill -KILL $pid"
	wait_port 127.0.0.1 "$port" || { cat "$TRASH/$name.log"; return 1; }
}

# wait_log FILE REGEX [tries]: waits until FILE has a line matching REGEX.
wait_log() {
	local i
	for ((i = 0; i < ${3:-100}; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line matching '$2' in $1:"; cat "$1"
	return 1
}

# curl through the server tunnel with a client certificate NAME (or none).
tcurl() { # port name [curl args...]
	local port=$1 name=$2
	shift 2
	if [ "$name" = none ]; then
		curl -sS --max-time 10 --cacert "$PKI/ca.crt" "$@" "https://localhost:$port/"
	else
		curl -sS --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/$name.crt" \
			--key "$PKI/$name.key" "$@" "https://localhost:$port/"
	fi
}

# start_nginx NAME SERVER-BLOCK: runs nginx in the foreground with one
# server block (the http{} context) under $TRASH/NAME, logs in there.
start_nginx() {
	local dir=$TRASH/$1
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || return 1
	mkdir -p "$dir/logs" "$dir/tmp"
	cat >"$dir/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 1024; }
http {
	access_log $dir/logs/access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	$2
}
NGX
	"$(command -v nginx || echo /usr/sbin/nginx)" -p "$dir" -c "$dir/nginx.conf" \
		>"$dir/logs/stdout.log" 2>&1 &
	local pid=$!
	disown "$pid"
	test_on_exit "kill $pid"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	command -v openssl >/dev/null || test_skip_all "no openssl"

	test_expect_success 'test PKI is created' 'tunnel_pki'
	test_expect_success 'server and billing certificates verify under the CA' '
		openssl verify -CAfile "$PKI/ca.crt" -purpose sslserver "$PKI/server.crt" &&
		openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$PKI/billing.crt"
	'
	test_expect_success 'expired, revoked and rogue certificates fail as intended' '
		! openssl verify -CAfile "$PKI/ca.crt" "$PKI/expired.crt" &&
		! openssl verify -CAfile "$PKI/ca.crt" "$PKI/rogue.crt" &&
		openssl verify -CAfile "$PKI/ca.crt" "$PKI/revoked.crt" &&
		! openssl verify -crl_check -CAfile "$PKI/ca.crt" -CRLfile "$PKI/crl.pem" \
			"$PKI/revoked.crt" &&
		openssl verify -crl_check -CAfile "$PKI/ca.crt" -CRLfile "$PKI/crl.pem" \
			"$PKI/billing.crt" &&
		! openssl verify -CAfile "$PKI/ca.crt" -purpose sslclient "$PKI/serveronly.crt"
	'
	test_done
fi
