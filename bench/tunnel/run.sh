#!/bin/bash
# bench/tunnel/run.sh - signet tunnel server vs nginx (ssl_verify_client on),
# HAProxy (verify required) and stunnel (verifyChain, requireCert), side by
# side in one run, with the same certificates (ECDSA P-256), TLS 1.3 with
# TLS_AES_128_GCM_SHA256, the same plain backend (an nginx returning a small
# body, or a 1 GiB sparse file), and the same load generator (loadgen.c).
#
# Per server and round: full mTLS handshakes/s (+ one small request each),
# kept-alive small requests (req/s, p50/p99), bulk download MiB/s, and RSS
# per idle connection (10,000 of them by default): the growth of the RSS
# summed over the server's whole process tree (nginx's and signet's master
# and workers alike), divided by the connections that stayed open.  Prints the median of the rounds and signet's ratio
# to each peer.  Everything listens on 127.0.0.1 and is stopped at exit.
#
# usage: bench/tunnel/run.sh [--rounds N] [--seconds S] [--idle N]
#                            [--bulk-mib N] [--peers "signet nginx haproxy stunnel"]
# env:   SIGNET (default build/signet), LOADGEN (default: built next to SIGNET
#        or compiled from loadgen.c into the work dir)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
ROUNDS=3 SECS=5 IDLE=10000 BULK_MIB=1024 PEERS="signet nginx haproxy stunnel"
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--seconds) SECS=$2; shift 2 ;;
	--idle) IDLE=$2; shift 2 ;;
	--bulk-mib) BULK_MIB=$2; shift 2 ;;
	--peers) PEERS=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--seconds S] [--idle N] [--bulk-mib N] [--peers LIST]" >&2; exit 2 ;;
	esac
done
SIGNET=${SIGNET:-$SRC/build/signet}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
W=$(mktemp -d /tmp/signet-bench-tunnel.XXXXXX)
chmod 755 "$W" # nginx workers may run as another user
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
# Each server holds two descriptors per idle connection (client side and
# backend) in one process (HAProxy, stunnel) or spread over its workers
# (signet; nginx needs one, its upstream connections are pooled); the load
# generator holds one per connection.  Say so when the limit cannot hold it.
HAPROXY_MAXCONN=$((IDLE + 100))
if [ "$NOFILE" != unlimited ] && [ $((2 * IDLE + 100)) -gt "$NOFILE" ]; then
	HAPROXY_MAXCONN=$(((NOFILE - 100) / 2)) # it refuses to start when 2 * maxconn does not fit
	echo "note: RLIMIT_NOFILE is $NOFILE: a single-process server (HAProxy, stunnel) cannot hold $IDLE idle connections; its figure is per connection it did hold" >&2
fi

LOADGEN=${LOADGEN:-}
if [ -z "$LOADGEN" ]; then
	LOADGEN=$W/loadgen
	cc -O2 -o "$LOADGEN" "$HERE/loadgen.c" -lssl -lcrypto -lpthread
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# ---- certificates (openssl CLI) ----
cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.crt -subj "/CN=Bench CA" -days 7 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
issue() { # name cn eku san
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.csr" -subj "/CN=$2" 2>/dev/null
	printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n" \
		"$3" "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
		-extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
issue server localhost serverAuth "DNS:localhost,IP:127.0.0.1"
issue client billing clientAuth "DNS:billing.internal"
cat server.crt server.key >server.pem
truncate -s "$((BULK_MIB * 1048576))" bulk.bin
# Read it once now: the first pass over a fresh sparse file fills the page
# cache and ran at under half speed, a penalty that fell on whichever
# server came first in round 1 (signet: 361 MiB/s, then 875).
cat bulk.bin >/dev/null
chmod 644 ./*.crt ./*.key bulk.bin

# ---- the shared plain backend ----
B=$(port)
mkdir -p backend/logs backend/tmp
cat >backend/nginx.conf <<EOF
daemon off; worker_processes 1; pid $W/backend/nginx.pid;
error_log $W/backend/logs/error.log error;
events { worker_connections $((2 * IDLE + 1000)); }
http {
	access_log off; sendfile on; tcp_nodelay on;
	keepalive_requests 100000000; keepalive_timeout 600s;
	client_body_temp_path $W/backend/tmp/b; proxy_temp_path $W/backend/tmp/p;
	fastcgi_temp_path $W/backend/tmp/f; uwsgi_temp_path $W/backend/tmp/u; scgi_temp_path $W/backend/tmp/s;
	server {
		listen 127.0.0.1:$B backlog=4096;
		location = / { return 200 "ok\n"; }
		location = /bulk { alias $W/bulk.bin; }
	}
}
EOF
"$NGINX" -p "$W/backend" -c "$W/backend/nginx.conf" &
PIDS+=($!)
wait_port "$B"

# ---- the servers under test ----
start_peer() { # name port -> sets PEER_PID
	local name=$1 p=$2
	case $name in
	signet)
		"$SIGNET" tunnel server --listen "127.0.0.1:$p" --to "127.0.0.1:$B" \
			--cert server.crt --key server.key --client-ca ca.crt --workers 2 \
			--max-conns 100000 --idle-timeout 600 --reload-interval 0 \
			2>"$W/signet.log" &
		PEER_PID=$!
		;;
	nginx)
		mkdir -p "$W/ngx/logs" "$W/ngx/tmp"
		cat >"$W/ngx/nginx.conf" <<EOF
worker_processes 2; pid $W/ngx/nginx.pid; daemon off;
error_log $W/ngx/logs/error.log error;
worker_rlimit_nofile $NOFILE;
events { worker_connections $((IDLE + 1000)); }
http {
	access_log $W/ngx/logs/access.log;
	client_body_temp_path $W/ngx/tmp/b; proxy_temp_path $W/ngx/tmp/p;
	fastcgi_temp_path $W/ngx/tmp/f; uwsgi_temp_path $W/ngx/tmp/u; scgi_temp_path $W/ngx/tmp/s;
	keepalive_requests 100000000; keepalive_timeout 600s;
	upstream backend { server 127.0.0.1:$B; keepalive 64; }
	server {
		listen 127.0.0.1:$p ssl backlog=4096;
		ssl_certificate $W/server.crt; ssl_certificate_key $W/server.key;
		ssl_client_certificate $W/ca.crt; ssl_verify_client on;
		ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets off; ssl_session_cache off;
		location / {
			proxy_pass http://backend; proxy_http_version 1.1;
			proxy_set_header Connection ""; proxy_buffering off;
		}
	}
}
EOF
		"$NGINX" -p "$W/ngx" -c "$W/ngx/nginx.conf" &
		PEER_PID=$!
		;;
	haproxy)
		cat >"$W/haproxy.cfg" <<EOF
global
	nbthread 2
	maxconn $HAPROXY_MAXCONN
	ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
defaults
	mode tcp
	timeout connect 5s
	timeout client 600s
	timeout server 600s
frontend tls
	bind 127.0.0.1:$p ssl crt $W/server.pem ca-file $W/ca.crt verify required
	default_backend b
backend b
	server s1 127.0.0.1:$B
EOF
		haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
		PEER_PID=$!
		;;
	stunnel)
		cat >"$W/stunnel.conf" <<EOF
foreground = yes
pid =
debug = 3
output = $W/stunnel.log
[tls]
accept = 127.0.0.1:$p
connect = 127.0.0.1:$B
cert = $W/server.crt
key = $W/server.key
CAfile = $W/ca.crt
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.2
options = NO_TICKET
TIMEOUTidle = 600
EOF
		stunnel "$W/stunnel.conf" >/dev/null 2>&1 &
		PEER_PID=$!
		;;
	esac
	PIDS+=("$PEER_PID")
	wait_port "$p" || { echo "$name did not start:"; cat "$W/$name.log" "$W/ngx/logs/error.log" 2>/dev/null | tail -5; return 1; }
}

tree() { # the process and all its descendants
	local p
	echo "$1"
	for p in $(pgrep -P "$1" || true); do tree "$p"; done
}

stop_peer() {
	local procs
	procs=$(tree "$PEER_PID")
	kill "$PEER_PID" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$PEER_PID" 2>/dev/null || break; sleep 0.1; done
	# (workers too, so that none outlives its round and loads the next)
	for p in $procs; do kill -9 "$p" 2>/dev/null || true; done
	wait "$PEER_PID" 2>/dev/null || true
}

rss_kb() { # summed over the process and all its descendants
	local total=0 p
	for p in $(tree "$1"); do
		total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)))
	done
	echo $total
}

LG=(--cert client.crt --key client.key --ca ca.crt)
declare -A R
for ((round = 1; round <= ROUNDS; round++)); do
	for peer in $PEERS; do
		command -v "$peer" >/dev/null 2>&1 || [ "$peer" = signet ] || [ "$peer" = nginx ] || continue
		p=$(port)
		start_peer "$peer" "$p"
		sleep 0.3
		hs=$("$LOADGEN" hs "127.0.0.1:$p" "${LG[@]}" --threads 16 --seconds "$SECS")
		keep=$("$LOADGEN" keep "127.0.0.1:$p" "${LG[@]}" --threads 16 --seconds "$SECS")
		bulk=$("$LOADGEN" bulk "127.0.0.1:$p" "${LG[@]}" --path /bulk)
		before=$(rss_kb "$PEER_PID")
		coproc IDLEGEN { "$LOADGEN" idle "127.0.0.1:$p" "${LG[@]}" --threads 8 --count "$IDLE"; }
		read -r idle_line <&"${IDLEGEN[0]}" || idle_line="ready open 0 (the load generator failed)"
		sleep 1
		after=$(rss_kb "$PEER_PID")
		exec {IDLEGEN[1]}>&-
		wait "$IDLEGEN_PID" 2>/dev/null || true
		stop_peer
		open=$(echo "$idle_line" | awk '{print $3}')
		R[$peer,hs,$round]=$(echo "$hs" | awk '{print $3}')
		R[$peer,rps,$round]=$(echo "$keep" | awk '{print $3}')
		R[$peer,p50,$round]=$(echo "$keep" | awk '{print $5}')
		R[$peer,p99,$round]=$(echo "$keep" | awk '{print $7}')
		R[$peer,bulk,$round]=$(echo "$bulk" | awk '{print $7}')
		R[$peer,idle,$round]=$(awk -v a="$after" -v b="$before" -v n="$open" \
			'BEGIN { printf("%.1f", n > 0 ? (a - b) / n : 0) }')
		printf "round %d %-8s hs/s %8s  req/s %8s  p50 %6sus  p99 %6sus  bulk %7s MiB/s  idle %6s KiB/conn (%s open; errors: hs %s keep %s)\n" \
			"$round" "$peer" "${R[$peer,hs,$round]}" "${R[$peer,rps,$round]}" \
			"${R[$peer,p50,$round]}" "${R[$peer,p99,$round]}" "${R[$peer,bulk,$round]}" \
			"${R[$peer,idle,$round]}" "$open" "$(echo "$hs" | awk '{print $7}')" \
			"$(echo "$keep" | awk '{print $9}')"
	done
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "medians of $ROUNDS rounds (${SECS}s per load phase, $IDLE idle connections, ${BULK_MIB} MiB bulk; TLS 1.3, P-256, client cert verified)"
printf "%-8s %10s %10s %8s %8s %10s %12s\n" server "hs/s" "req/s" "p50us" "p99us" "bulkMiB/s" "KiB/idleconn"
declare -A M
for peer in $PEERS; do
	[ -n "${R[$peer,hs,1]:-}" ] || continue
	for k in hs rps p50 p99 bulk idle; do
		vals=()
		for ((round = 1; round <= ROUNDS; round++)); do vals+=("${R[$peer,$k,$round]}"); done
		M[$peer,$k]=$(median "${vals[@]}")
	done
	printf "%-8s %10s %10s %8s %8s %10s %12s\n" "$peer" "${M[$peer,hs]}" "${M[$peer,rps]}" \
		"${M[$peer,p50]}" "${M[$peer,p99]}" "${M[$peer,bulk]}" "${M[$peer,idle]}"
done
echo
echo "signet / peer (higher is better for hs, req/s, bulk; lower for latency and memory)"
for peer in $PEERS; do
	[ "$peer" = signet ] && continue
	[ -n "${M[signet,hs]:-}" ] || continue
	[ -n "${M[$peer,hs]:-}" ] || continue
	awk -v p="$peer" -v a="${M[signet,hs]}" -v b="${M[$peer,hs]}" -v c="${M[signet,rps]}" \
		-v d="${M[$peer,rps]}" -v e="${M[signet,p99]}" -v f="${M[$peer,p99]}" \
		-v g="${M[signet,bulk]}" -v h="${M[$peer,bulk]}" -v i="${M[signet,idle]}" \
		-v j="${M[$peer,idle]}" 'function r(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
		BEGIN { printf "vs %-8s hs %s  req/s %s  p99 %s  bulk %s  memory %s\n", p,
			r(a, b), r(c, d), r(e, f), r(g, h), r(i, j) }'
done
