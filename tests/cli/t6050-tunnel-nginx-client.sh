#!/bin/bash
# t6050-tunnel-nginx-client.sh - the classic two-way setup with signet on
# either end: nginx with proxy_ssl_certificate as a client of `signet tunnel
# server`, and the full signet-to-signet chain (plain caller -> tunnel
# client -> tunnel server -> plain backend).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || test_skip_all "no nginx"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_http_backend
P=$(free_port)
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$BACKEND_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--crl "$PKI/crl.pem" --allow cn=billing

N=$(free_port)
NR=$(free_port)
start_nginx ngx "
	server {
		listen 127.0.0.1:$N;
		location / {
			proxy_pass https://127.0.0.1:$P;
			proxy_ssl_certificate $PKI/billing.crt;
			proxy_ssl_certificate_key $PKI/billing.key;
			proxy_ssl_trusted_certificate $PKI/ca.crt;
			proxy_ssl_verify on;
			proxy_ssl_name localhost;
			proxy_ssl_server_name on;
			proxy_ssl_protocols TLSv1.2 TLSv1.3;
		}
	}
	server {
		listen 127.0.0.1:$NR;
		location / {
			proxy_pass https://127.0.0.1:$P;
			proxy_ssl_certificate $PKI/revoked.crt;
			proxy_ssl_certificate_key $PKI/revoked.key;
			proxy_ssl_trusted_certificate $PKI/ca.crt;
			proxy_ssl_verify on;
			proxy_ssl_name localhost;
		}
	}"
wait_port 127.0.0.1 $N && wait_port 127.0.0.1 $NR || { cat "$TRASH/ngx/logs/"*; exit 1; }

C=$(free_port)
start_tunnel cli client --listen "127.0.0.1:$C" --to "127.0.0.1:$P" \
	--cert "$PKI/billing.crt" --key "$PKI/billing.key" --ca "$PKI/ca.crt" \
	--server-name localhost

test_expect_success 'nginx (proxy_ssl_certificate) reaches the backend through the server tunnel' '
	curl -sS --max-time 10 http://127.0.0.1:$N/ | grep -q "hello from the backend" &&
	wait_log "$TRASH/srv.log" "client=\"CN=billing\" .*outcome=ok"
'
test_expect_success 'nginx with a revoked client certificate is refused (502) and the reason logged' '
	code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 10 http://127.0.0.1:$NR/) &&
	test "$code" = 502 &&
	wait_log "$TRASH/srv.log" "client=\"CN=revoked\" .*outcome=refused reason=revoked"
'
test_expect_success 'signet on both ends: plain caller -> tunnel client -> tunnel server -> backend' '
	curl -sS --max-time 10 http://127.0.0.1:$C/ | grep -q "hello from the backend" &&
	curl -sS --max-time 10 -o big.bin http://127.0.0.1:$C/big.bin &&
	cmp big.bin "$TRASH/www/big.bin"
'
test_expect_success 'twenty parallel requests through both tunnels all succeed' '
	for i in $(seq 20); do
		curl -sS --max-time 10 http://127.0.0.1:$C/ >"par.$i" &
	done
	wait &&
	test $(cat par.* | grep -c "hello from the backend") = 20
'
test_done
