#!/bin/bash
# t6040-tunnel-client-nginx.sh - `signet tunnel client` in front of an
# nginx upstream with `ssl_verify_client on`: a plain request goes through
# with our client certificate; an upstream whose certificate does not name
# the host we asked for, or that another CA issued, is refused and logged.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || test_skip_all "no nginx"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
N=$(free_port)
W=$(free_port)
start_nginx ngx "
	server {
		listen 127.0.0.1:$N ssl;
		ssl_certificate $PKI/server.crt;
		ssl_certificate_key $PKI/server.key;
		ssl_client_certificate $PKI/ca.crt;
		ssl_verify_client on;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 \"nginx saw client \$ssl_client_s_dn verify=\$ssl_client_verify\n\"; }
	}
	server {
		listen 127.0.0.1:$W ssl;
		ssl_certificate $PKI/wrongname.crt;
		ssl_certificate_key $PKI/wrongname.key;
		ssl_client_certificate $PKI/ca.crt;
		ssl_verify_client on;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 \"should never be seen\n\"; }
	}"
wait_port 127.0.0.1 $N && wait_port 127.0.0.1 $W || { cat "$TRASH/ngx/logs/"*; exit 1; }

C1=$(free_port)
C2=$(free_port)
C3=$(free_port)
C4=$(free_port)
common=(--cert "$PKI/billing.crt" --key "$PKI/billing.key")
start_tunnel good client --listen "127.0.0.1:$C1" --to "localhost:$N" "${common[@]}" \
	--ca "$PKI/ca.crt"
start_tunnel wrong client --listen "127.0.0.1:$C2" --to "127.0.0.1:$W" "${common[@]}" \
	--ca "$PKI/ca.crt" --server-name localhost
start_tunnel stranger client --listen "127.0.0.1:$C3" --to "localhost:$N" "${common[@]}" \
	--ca "$PKI/other/ca.crt"
start_tunnel byip client --listen "127.0.0.1:$C4" --to "127.0.0.1:$N" "${common[@]}" \
	--ca "$PKI/ca.crt"

test_expect_success 'a plain request reaches nginx over mutual TLS with our certificate' '
	curl -sS --max-time 10 http://127.0.0.1:$C1/ >out &&
	grep -q "nginx saw client CN=billing verify=SUCCESS" out
'
test_expect_success 'the client tunnel logs the upstream identity and TLS parameters' '
	wait_log "$TRASH/good.log" "tunnel=client .*upstream=\"CN=localhost\" serial=[0-9a-f]+ tls=TLSv1.3 .*outcome=ok"
'
test_expect_success 'an upstream IP address is verified against the IP SAN' '
	curl -sS --max-time 10 http://127.0.0.1:$C4/ | grep -q "CN=billing"
'
test_expect_success 'an upstream whose certificate names another host is refused' '
	! curl -sS --max-time 10 http://127.0.0.1:$C2/ >out 2>&1 &&
	! grep -q "should never" out &&
	wait_log "$TRASH/wrong.log" "upstream=\"CN=wrong.example\" .*outcome=refused reason=name_mismatch"
'
test_expect_success 'an upstream from a CA we do not trust is refused' '
	! curl -sS --max-time 10 http://127.0.0.1:$C3/ >out 2>&1 &&
	wait_log "$TRASH/stranger.log" "outcome=refused reason=untrusted"
'
# (started out here: a tunnel started inside a test body's subshell would
# not be stopped by the cleanup at exit)
P5=$(free_port)
start_tunnel rogue client --listen "127.0.0.1:$P5" --to "localhost:$N" \
	--cert "$PKI/rogue.crt" --key "$PKI/rogue.key" --ca "$PKI/ca.crt" || exit 1
test_expect_success 'nginx refuses a client tunnel without a client certificate it trusts' '
	curl -sS --max-time 10 http://127.0.0.1:$P5/ >out 2>&1 &&
	grep -q "400 The SSL certificate error" out && ! grep -q "verify=SUCCESS" out
'
test_done
