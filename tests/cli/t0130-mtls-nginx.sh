#!/bin/bash
# t0130-mtls-nginx.sh - an nginx on 127.0.0.1 with ssl_verify_client on and
# the signet root as ssl_client_certificate accepts curl with a signet
# client certificate (200) and refuses a request without one (400).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

NGINX=${NGINX:-/usr/sbin/nginx}
[ -x "$NGINX" ] || test_skip_all "no nginx"
command -v curl >/dev/null || test_skip_all "no curl"
PORT=$(free_port)

test_expect_success 'setup: CA, server and client certificates' '
	ca_init ca &&
	$SIGNET issue localhost --san dns:localhost,ip:127.0.0.1 >/dev/null &&
	$SIGNET issue alice --profile client >/dev/null &&
	$SIGNET issue bob --profile client --out-dir bob >/dev/null &&
	$SIGNET export bob --key bob/bob.key --chain bob/full.pem
'

test_expect_success 'start nginx with ssl_verify_client on' '
	mkdir -p ng/logs ng/tmp &&
	cat >ng/nginx.conf <<-EOF &&
	worker_processes 1;
	pid $TRASH/ng/nginx.pid;
	error_log stderr;
	events { worker_connections 64; }
	http {
	    access_log $TRASH/ng/logs/access.log;
	    client_body_temp_path $TRASH/ng/tmp/body;
	    proxy_temp_path $TRASH/ng/tmp/proxy;
	    fastcgi_temp_path $TRASH/ng/tmp/fastcgi;
	    uwsgi_temp_path $TRASH/ng/tmp/uwsgi;
	    scgi_temp_path $TRASH/ng/tmp/scgi;
	    server {
	        listen 127.0.0.1:$PORT ssl;
	        server_name localhost;
	        ssl_certificate $TRASH/localhost.chain.pem;
	        ssl_certificate_key $TRASH/localhost.key;
	        ssl_client_certificate $TRASH/ca/root.crt;
	        ssl_verify_client on;
	        ssl_verify_depth 2;
	        location / { return 200 "hello \$ssl_client_s_dn\n"; }
	    }
	}
	EOF
	{ $NGINX -p $TRASH/ng -c $TRASH/ng/nginx.conf -g "daemon off;" >ng/out.log 2>&1 &
	  echo $! >ng/master.pid; } &&
	wait_port 127.0.0.1 $PORT || { cat ng/out.log; exit 1; }
'
test_on_exit 'kill $(cat "$TRASH/ng/master.pid")'

test_expect_success 'curl with a signet client certificate gets 200' '
	code=$(curl -s -o body -w "%{http_code}" --cacert ca/root.crt \
		--cert alice.chain.pem --key alice.key https://localhost:$PORT/ \
		--resolve localhost:$PORT:127.0.0.1) &&
	test "$code" = 200 && grep -q "CN=alice" body
'

test_expect_success 'a client certificate exported with --chain works too' '
	code=$(curl -s -o body -w "%{http_code}" --cacert ca/root.crt \
		--cert bob/full.pem --key bob/bob.key https://127.0.0.1:$PORT/) &&
	test "$code" = 200 && grep -q "CN=bob" body
'

test_expect_success 'curl without a client certificate gets 400' '
	code=$(curl -s -o body -w "%{http_code}" --cacert ca/root.crt https://127.0.0.1:$PORT/) &&
	test "$code" = 400 && grep -qi "No required SSL certificate" body
'

test_expect_success 'a client certificate from another CA gets 400' '
	env -u SIGNET_PASS_FILE $SIGNET init --dir other --name "Other Root" --no-passphrase >/dev/null 2>&1 &&
	env -u SIGNET_PASS_FILE $SIGNET issue mallory --dir other --profile client >/dev/null &&
	code=$(curl -s -o body -w "%{http_code}" --cacert ca/root.crt \
		--cert mallory.crt --key mallory.key https://127.0.0.1:$PORT/) &&
	test "$code" = 400
'

test_expect_success 'curl verifies the nginx server certificate against the signet root' '
	curl -s -o /dev/null --cacert other/root.crt --cert alice.chain.pem --key alice.key \
		https://127.0.0.1:$PORT/ && exit 1
	code=$(curl -s -o /dev/null -w "%{http_code}" --cacert ca/root.crt \
		--cert alice.chain.pem --key alice.key https://127.0.0.1:$PORT/) &&
	test "$code" = 200
'

test_done
