#!/bin/bash
# t4050-nginx-crl.sh - nginx with `ssl_crl` pointing at signet's CRL and
# `ssl_verify_client on` refuses a revoked client certificate (400) and
# accepts an unrevoked one (200).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"
NGINX=/usr/sbin/nginx
[ -x $NGINX ] || NGINX=$(command -v nginx) || test_skip_all "no nginx"

rev_pki || { echo "cannot create the CA"; exit 1; }
"$SIGNET" issue localhost --profile server --san dns:localhost --san ip:127.0.0.1 >/dev/null 2>&1
"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null
"$SIGNET" crl --out crl-int.pem >/dev/null 2>&1
"$SIGNET" crl --issuer root --out crl-root.pem >/dev/null 2>&1
cat crl-int.pem crl-root.pem >crl.pem
N=$(free_port)
mkdir -p ngx/logs
cat >ngx/nginx.conf <<NGX
worker_processes 1;
error_log $TRASH/ngx/logs/error.log info;
pid $TRASH/ngx/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $TRASH/ngx/tmp; proxy_temp_path $TRASH/ngx/tmp;
	fastcgi_temp_path $TRASH/ngx/tmp; uwsgi_temp_path $TRASH/ngx/tmp; scgi_temp_path $TRASH/ngx/tmp;
	server {
		listen 127.0.0.1:$N ssl;
		ssl_certificate $TRASH/localhost.chain.pem;
		ssl_certificate_key $TRASH/localhost.key;
		ssl_client_certificate $TRASH/ca/root.crt;
		ssl_verify_client on;
		ssl_verify_depth 3;
		ssl_crl $TRASH/crl.pem;
		location / { return 200 "hello \$ssl_client_s_dn\n"; }
	}
}
NGX
mkdir -p ngx/tmp
$NGINX -p "$TRASH/ngx" -c "$TRASH/ngx/nginx.conf" -g 'daemon off;' 2>ngx/stderr &
test_on_exit "kill $!"
wait_port 127.0.0.1 $N 200 || { cat ngx/stderr ngx/logs/error.log; exit 1; }

req() { # cert key -> HTTP status
	curl -s -o body.txt -w "%{http_code}" --max-time 10 --cacert ca/root.crt \
		--cert "$1" --key "$2" "https://localhost:$N/" --resolve "localhost:$N:127.0.0.1"
}
test_expect_success 'the unrevoked client certificate is accepted (200)' '
	cat a.crt ca/intermediate.crt >a.full && test "$(req a.full a.key)" = 200 &&
	grep -q "CN=a" body.txt
'
test_expect_success 'the revoked client certificate is refused (400)' '
	cat b.crt ca/intermediate.crt >b.full && test "$(req b.full b.key)" = 400
'
test_expect_success 'nginx logged the revocation as the reason' '
	grep -q "revoked" ngx/logs/error.log
'
test_done
