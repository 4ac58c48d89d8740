#!/usr/bin/env bash
# quickstart.sh - signet's main job on a fresh machine, step by step:
# installs what is missing, builds, creates a CA (embedded SQLite database)
# in ./demo, issues a server and a client certificate, and proves mutual
# TLS with them.  Safe to run again: it starts from a clean ./demo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "installing missing dependencies (Debian packages)"
./scripts/deps.sh
step "building signet"
./scripts/build.sh build >/dev/null
signet=$root/build/signet
"$signet" --version

demo=$root/demo
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

step "a passphrase for the CA keys (kept in demo/pass.txt, mode 0600)"
(umask 077; head -c 24 /dev/urandom | base64 >pass.txt)
export SIGNET_PASS_FILE=$demo/pass.txt SIGNET_DIR=$demo/ca

step "signet init: root + intermediate CA, encrypted keys, SQLite database"
"$signet" init --name "Demo Root CA" --intermediate
ls -l ca

step "signet issue: a server certificate for localhost / 127.0.0.1"
"$signet" issue localhost --profile server --san dns:localhost,ip:127.0.0.1
step "signet issue: a client certificate for 'billing'"
"$signet" issue billing --profile client

step "signet list: the CA database"
"$signet" list

step "openssl verify -x509_strict: the chains are valid"
openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt -untrusted ca/intermediate.crt localhost.crt
openssl verify -x509_strict -purpose sslclient -CAfile ca/root.crt -untrusted ca/intermediate.crt billing.crt

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
step "mutual TLS: openssl s_server on 127.0.0.1:$port requires a client certificate"
openssl s_server -quiet -accept "127.0.0.1:$port" -cert localhost.crt -key localhost.key \
	-cert_chain ca/intermediate.crt -CAfile ca/root.crt -Verify 2 -verify_return_error \
	-naccept 2 -rev >server.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
sleep 0.2

step "client WITH its certificate: handshake succeeds"
out=$(echo "hello from billing" | openssl s_client -connect "127.0.0.1:$port" -servername localhost \
	-cert billing.crt -key billing.key -cert_chain ca/intermediate.crt -CAfile ca/root.crt \
	-verify_return_error -verify_hostname localhost -quiet 2>&1 || true)
echo "$out" | tail -3
echo "$out" | grep -q "gnillib morf olleh" || { echo "FAILED: mutual TLS did not work"; exit 1; }
echo "OK: server verified the client, client verified the server (the server echoed the line reversed)"

step "client WITHOUT a certificate: refused"
if echo "no cert" | openssl s_client -connect "127.0.0.1:$port" -CAfile ca/root.crt -quiet \
	>nocert.log 2>&1 && grep -q "trec on" nocert.log; then
	echo "FAILED: a client without a certificate got through"; exit 1
fi
grep -Eo 'alert [a-z ]+|certificate required' nocert.log | head -1 || true
echo "OK: refused"

if [ -x "$root/scripts/demo-tunnel.sh" ] && "$signet" tunnel --help >/dev/null 2>&1; then
	step "the same with signet on both ends: signet tunnel server + signet tunnel client"
	"$root/scripts/demo-tunnel.sh" "$demo"
fi

step "done: the CA is in $demo/ca (root.crt is the trust anchor to hand out)"
