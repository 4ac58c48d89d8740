#!/usr/bin/env bash
# quickstart.sh - signet's main job on a fresh machine, step by step:
# installs what is missing, builds, creates a CA (embedded SQLite database)
# in ./demo, issues a server and a client certificate, verifies them, and
# proves mutual TLS with them the classic way, with signet on both ends: a
# plain backend, `signet tunnel server` in front of it requiring a client
# certificate, `signet tunnel client` beside the caller; a request goes
# through, one without a client certificate is refused.  Everything listens
# on 127.0.0.1 only.  Safe to run again: it starts from a clean ./demo.
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

step "signet verify: the same check, explained (chain, validity, purpose, host name)"
"$signet" verify localhost.crt --chain ca/intermediate.crt --trust ca/root.crt --host localhost
"$signet" verify billing.crt --chain ca/intermediate.crt --trust ca/root.crt --purpose client
if "$signet" verify billing.crt --chain ca/intermediate.crt --trust ca/root.crt --host api.example.com 2>verify.err; then
	echo "FAILED: a client certificate passed as a server for api.example.com"; exit 1
fi
echo "refused as expected: $(cat verify.err)"

step "mutual TLS with signet on both ends: a plain backend, signet tunnel server in front"
step "of it (client certificate required), signet tunnel client beside the caller"
mkdir -p tunnel
ln -sf ../ca/root.crt tunnel/ca.crt
ln -sf ../localhost.chain.pem tunnel/server.crt
ln -sf ../localhost.key tunnel/server.key
ln -sf ../billing.chain.pem tunnel/client.crt
ln -sf ../billing.key tunnel/client.key
SIGNET=$signet "$root/scripts/demo-tunnel.sh" "$demo/tunnel"

step "done: the CA is in $demo/ca (root.crt is the trust anchor to hand out)"
