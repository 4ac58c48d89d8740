#!/bin/bash
# demo-tunnel.sh - the classic two-way-authentication setup with signet on
# both ends, step by step:
#
#   caller --plain--> signet tunnel client --mTLS--> signet tunnel server --plain--> backend
#
# usage: scripts/demo-tunnel.sh [CA-DIR]
#   CA-DIR, when given, must hold ca.crt, server.crt/server.key (for
#   "localhost") and client.crt/client.key; otherwise a throwaway CA and
#   both certificates are made with the openssl CLI.  $SIGNET is the signet
#   binary (default: build/signet).  Everything listens on 127.0.0.1 and is
#   stopped and removed at exit.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIGNET=${SIGNET:-$SRC/build/signet}
W=$(mktemp -d /tmp/signet-demo-tunnel.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

if [ $# -ge 1 ]; then
	CA=$(cd "$1" && pwd)
	step "Using the certificates in $CA"
else
	CA=$W/ca
	mkdir -p "$CA"
	step "1. A CA, a server certificate (localhost) and a client certificate (billing)"
	run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$CA/ca.key" -out "$CA/ca.crt" -subj "/CN=Demo CA" -days 1 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	for who in server:localhost:serverAuth:DNS:localhost,IP:127.0.0.1 \
		   client:billing:clientAuth:DNS:billing.internal; do
		IFS=: read -r name cn eku san <<<"$who"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$CA/$name.key" -out "$CA/$name.csr" -subj "/CN=$cn" 2>/dev/null
		printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n" \
			"$eku" "${san//;/,}" >"$CA/$name.ext"
		run openssl x509 -req -in "$CA/$name.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" \
			-CAcreateserial -days 1 -extfile "$CA/$name.ext" -out "$CA/$name.crt" 2>/dev/null
	done
fi

BACKEND=$(port) SERVER=$(port) CLIENT=$(port)
step "2. A plain HTTP backend on 127.0.0.1:$BACKEND"
mkdir -p "$W/www"
echo "hello from the backend, via mutual TLS" >"$W/www/index.html"
printf '$ python3 -m http.server --bind 127.0.0.1 %s\n' "$BACKEND"
python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$BACKEND" >"$W/backend.log" 2>&1 </dev/null &
PIDS+=($!)
wait_port "$BACKEND"

step "3. signet tunnel server in front of it (TLS on 127.0.0.1:$SERVER, client certificate required)"
# (shown by echo: `run` in the background would be a subshell, not signet)
echo "\$ signet tunnel server --listen 127.0.0.1:$SERVER --to 127.0.0.1:$BACKEND" \
	"--cert server.crt --key server.key --client-ca ca.crt --allow cn=billing"
"$SIGNET" tunnel server --listen "127.0.0.1:$SERVER" --to "127.0.0.1:$BACKEND" \
	--cert "$CA/server.crt" --key "$CA/server.key" --client-ca "$CA/ca.crt" \
	--allow cn=billing >/dev/null 2>"$W/server.log" &
PIDS+=($!)
wait_port "$SERVER"

step "4. signet tunnel client beside the caller (plain on 127.0.0.1:$CLIENT)"
echo "\$ signet tunnel client --listen 127.0.0.1:$CLIENT --to 127.0.0.1:$SERVER" \
	"--server-name localhost --cert client.crt --key client.key --ca ca.crt"
"$SIGNET" tunnel client --listen "127.0.0.1:$CLIENT" --to "127.0.0.1:$SERVER" \
	--server-name localhost --cert "$CA/client.crt" --key "$CA/client.key" \
	--ca "$CA/ca.crt" >/dev/null 2>"$W/client.log" &
PIDS+=($!)
wait_port "$CLIENT"

step "5. The caller speaks plain HTTP to the client tunnel: the request goes through"
run curl -sS --max-time 10 "http://127.0.0.1:$CLIENT/"

step "6. Straight to the server tunnel without a client certificate: refused"
if run curl -sS --max-time 10 --cacert "$CA/ca.crt" "https://localhost:$SERVER/"; then
	echo "UNEXPECTED: the request without a client certificate went through" >&2
	exit 1
fi

sleep 0.3
step "7. What the tunnels logged (one line per connection)"
grep " conn " "$W/client.log" | grep -v closed_in_handshake || true
grep " conn " "$W/server.log" | grep -v closed_in_handshake || true
step "Done; stopping everything."
