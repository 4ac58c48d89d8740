#!/bin/bash
# t6020-tunnel-allow.sh - --allow rules: among the clients the CA vouches
# for, only those matching a rule (cn=, san:dns=, san:uri=, serial=) pass;
# the others are refused with reason not_allowed and a TLS alert.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_http_backend
web_serial=$(openssl x509 -in "$PKI/web.crt" -noout -serial | cut -d= -f2)

# serve NAME RULES...: a server tunnel allowing RULES; sets PORT_<NAME>.
serve() {
	local name=$1 port args=()
	shift
	port=$(free_port)
	for r in "$@"; do args+=(--allow "$r"); done
	start_tunnel "$name" server --listen "127.0.0.1:$port" \
		--to "127.0.0.1:$BACKEND_PORT" --cert "$PKI/server.crt" \
		--key "$PKI/server.key" --client-ca "$PKI/ca.crt" "${args[@]}"
	eval "PORT_$name=$port"
}
serve any
serve cn cn=billing
serve dns san:dns=billing.internal
serve uri san:uri=spiffe://example.org/web
serve serial "serial=0x00$web_serial"
serve two cn=nobody san:dns=web.internal

passes() { tcurl "$1" "$2" | grep -q "hello from the backend"; }
refused() { # port name log
	! tcurl "$1" "$2" >out 2>&1 && ! grep -q hello out &&
	wait_log "$3" "client=\"CN=$2\" .*outcome=refused reason=not_allowed detail=\".*matches no --allow rule\""
}

test_expect_success 'no --allow: any client the CA vouches for passes' '
	passes $PORT_any billing && passes $PORT_any web
'
test_expect_success 'cn=billing lets billing in and keeps web out' '
	passes $PORT_cn billing && refused $PORT_cn web "$TRASH/cn.log"
'
test_expect_success 'san:dns= matches the DNS SAN' '
	passes $PORT_dns billing && refused $PORT_dns web "$TRASH/dns.log"
'
test_expect_success 'san:uri= matches a SPIFFE ID' '
	passes $PORT_uri web && refused $PORT_uri billing "$TRASH/uri.log"
'
test_expect_success 'serial= matches the serial number in any case and leading zeros' '
	passes $PORT_serial web && refused $PORT_serial billing "$TRASH/serial.log"
'
test_expect_success 'several rules: any one match passes' '
	passes $PORT_two web && refused $PORT_two billing "$TRASH/two.log"
'
test_expect_success 'a wrong-CA certificate with an allowed CN is still refused as untrusted' '
	! tcurl $PORT_cn rogue >out 2>&1 &&
	wait_log "$TRASH/cn.log" "client=\"CN=billing\" .*outcome=refused reason=untrusted"
'
test_done
