#!/bin/bash
# bench/ocsp/run.sh - OCSP responder throughput and memory, signet vs
# `openssl ocsp -port`, on the same certificates and revocations.
# usage: bench/ocsp/run.sh SIGNET LOADGEN [KNOWN]   (never run by ctest)
# KNOWN certificates (default 1000000) are inserted into the database; 64
# real ones are issued and queried (SHA-1 CertIDs, no nonce, as browsers
# and RFC 5019 clients send).  Each load runs 10 s, 3 times; medians.
set -eu
SIGNET=$(realpath "$1") LOADGEN=$(realpath "$2") KNOWN=${3:-1000000}
W=$(mktemp -d /tmp/signet-bench-ocsp.XXXXXX)
pids=()
# `|| true`: under set -e a failed kill (of a server already stopped) would
# end the trap before the others are killed and $W removed.
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$W"' EXIT
cd "$W"
export SIGNET_DIR=$W/ca
"$SIGNET" init --name "Bench Root" --intermediate --no-passphrase >/dev/null 2>&1
mkdir -p certs
for i in $(seq 64); do "$SIGNET" issue c$i --profile client --out-dir certs >/dev/null 2>&1; done
for i in $(seq 1 8 64); do "$SIGNET" revoke certs/c$i.crt --reason keyCompromise >/dev/null; done
ISS=$(sqlite3 ca/signet.db "SELECT issuer FROM certs WHERE profile='client' LIMIT 1")
sqlite3 ca/signet.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $KNOWN)
  INSERT INTO certs (serial, fingerprint, issuer, subject, profile, not_before, not_after,
    issued_at, status, revoked_at, reason, der)
  SELECT printf('%x', 1152921504606846976 + i*7919), 'bench'||i, '$ISS', 'CN=b', 'server',
    1700000000, 1900000000, 1700000000, i % 10 = 0, CASE WHEN i % 10 = 0 THEN 1700000000 END,
    CASE WHEN i % 10 = 0 THEN 1 END, x'00' FROM n"
for i in $(seq 64); do
	openssl ocsp -issuer ca/intermediate.crt -cert certs/c$i.crt -no_nonce -reqout r$i.der >/dev/null
done
# openssl's index of the same 64 certificates
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("ca/signet.db")
with open("index.txt", "w") as f:
    for s, st, t in db.execute("SELECT serial, status, revoked_at FROM certs WHERE profile='client'"):
        if len(s) % 2: s = "0" + s
        if st == 1:
            import time
            f.write("R\t300101000000Z\t%s,keyCompromise\t%s\tunknown\t/CN=%s\n" % (time.strftime("%y%m%d%H%M%SZ", time.gmtime(t)), s.upper(), s))
        else:
            f.write("V\t300101000000Z\t\t%s\tunknown\t/CN=%s\n" % (s.upper(), s))
PY
echo "unique_subject = no" >index.txt.attr
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
load() { # port conns [--close] -> rate
	for r in 1 2 3; do "$LOADGEN" 127.0.0.1 "$1" "$2" 10 r*.der ${3:-} | sed 's/.*rate=\([0-9]*\).*/\1/'; done | median
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# serve THREADS: starts signet's responder; sets P and SPID.
serve() {
	P=$(port)
	t0=$(date +%s.%N)
	"$SIGNET" ocsp serve --listen 127.0.0.1:$P --threads $1 2>serve.log &
	SPID=$!
	pids+=($SPID)
	for i in $(seq 600); do grep -q "serving on" serve.log && break; sleep 0.1; done
	t1=$(date +%s.%N)
}
# The load generator is one thread and needs most of a core; openssl's
# responder is one process serving one request at a time.  signet is run
# twice: with one worker thread (one core each, as openssl has) and with
# two, where its workers and the load generator share the two cores.
serve 1
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status)
a1=$(load $P 1); a16=$(load $P 16); a64=$(load $P 64); a16c=$(load $P 16 --close)
rss_load=$(awk '/VmRSS/ {print $2}' /proc/$SPID/status)
rss_peak=$(awk '/VmHWM/ {print $2}' /proc/$SPID/status)
kill $SPID; wait $SPID 2>/dev/null || true
serve 2
b16=$(load $P 16); b64=$(load $P 64); b16c=$(load $P 16 --close)
kill $SPID; wait $SPID 2>/dev/null || true
O=$(port)
openssl ocsp -port $O -index index.txt -CA ca/intermediate.crt -rsigner ca/intermediate.crt \
	-rkey ca/intermediate.key -nmin 60 >/dev/null 2>&1 &
pids+=($!)
sleep 1
o1=$(load $O 1 --close); o16=$(load $O 16 --close)
echo "known certificates: $KNOWN; index built and listening in $(echo "$t1 - $t0" | bc) s"
echo "signet RSS (1 worker): after start $((rss_idle / 1024)) MB, after the loads $((rss_load / 1024)) MB, peak $((rss_peak / 1024)) MB"
printf "%-48s %10s\n" "load" "responses/s"
printf "%-48s %10s\n" "signet 1 worker, 1 conn keep-alive" "$a1"
printf "%-48s %10s\n" "signet 1 worker, 16 conns keep-alive" "$a16"
printf "%-48s %10s\n" "signet 1 worker, 64 conns keep-alive" "$a64"
printf "%-48s %10s\n" "signet 1 worker, 16 clients, new conn each" "$a16c"
printf "%-48s %10s\n" "signet 2 workers, 16 conns keep-alive" "$b16"
printf "%-48s %10s\n" "signet 2 workers, 64 conns keep-alive" "$b64"
printf "%-48s %10s\n" "signet 2 workers, 16 clients, new conn each" "$b16c"
printf "%-48s %10s\n" "openssl ocsp -port, 1 client (new conn each)" "$o1"
printf "%-48s %10s\n" "openssl ocsp -port, 16 clients (new conn each)" "$o16"
echo "ratio (signet 1 worker 16 keep-alive / openssl 16):  $(echo "scale=1; $a16 / $o16" | bc)x"
echo "ratio (signet 2 workers 16 keep-alive / openssl 16): $(echo "scale=1; $b16 / $o16" | bc)x"
echo "ratio (signet 1 worker 16 new-conn / openssl 16):    $(echo "scale=1; $a16c / $o16" | bc)x"
