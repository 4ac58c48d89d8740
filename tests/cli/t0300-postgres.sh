#!/bin/bash
# t0300-postgres.sh - the PostgreSQL backend: a CA whose database is a
# real PostgreSQL server (started here on 127.0.0.1), shared by two CA
# instances signing at the same time; serials stay unique, nothing is lost.
. "$(dirname "$0")/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || test_skip_all "no PostgreSQL server installed"
$SIGNET init --help | grep -q -- --database || test_skip_all "signet built without --database"

# PostgreSQL refuses to run as root: run it as the postgres user then.
PGDIR=$(mktemp -d /tmp/signet-pg.XXXXXX)
test_on_exit "rm -rf '$PGDIR'"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
PGPORT=$(free_port)
URL="postgresql://signet@127.0.0.1:$PGPORT/postgres"

test_expect_success 'start a private PostgreSQL on 127.0.0.1' '
	as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U signet >"$PGDIR/initdb.log" 2>&1 &&
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
		-o "-h 127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=on" start >/dev/null
'
test_on_exit "runuser -u postgres -- '$PGBIN/pg_ctl' -D '$PGDIR/data' -m immediate stop || '$PGBIN/pg_ctl' -D '$PGDIR/data' -m immediate stop"

test_expect_success 'init a CA whose database is PostgreSQL' '
	$SIGNET init --dir ca --name "PG Root CA" --intermediate --no-passphrase \
		--database "$URL" 2>/dev/null &&
	grep -q "\"database\": \"postgresql://" ca/signet.json &&
	test ! -e ca/signet.db
'

test_expect_success 'issue and list through PostgreSQL' '
	$SIGNET issue web.example.com --dir ca >/dev/null &&
	$SIGNET issue alice --dir ca --profile client >/dev/null &&
	$SIGNET list --dir ca --json >list.json &&
	"$PYTHON" -c "
import json; r = json.load(open(\"list.json\"))
assert len(r) == 4, r
assert {x[\"profile\"] for x in r} == {\"root\", \"intermediate\", \"server\", \"client\"}
" &&
	openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt web.example.com.crt
'

test_expect_success 'export reads the certificate back from PostgreSQL' '
	$SIGNET export web.example.com --dir ca --chain full.pem &&
	cmp <(openssl x509 -in full.pem -outform DER) <(openssl x509 -in web.example.com.crt -outform DER)
'

test_expect_success 'two CA instances sign batches at the same time' '
	cp -a ca ca2 &&
	mkdir csrs1 csrs2 &&
	for i in $(seq 1 40); do
		$SIGNET key new --force --out k.pem 2>/dev/null &&
		$SIGNET csr --key k.pem --subject "CN=a$i" --san "dns:a$i.example.com" --out csrs1/a$i.csr &&
		$SIGNET csr --key k.pem --subject "CN=b$i" --san "dns:b$i.example.com" --out csrs2/b$i.csr || exit 1
	done &&
	{ $SIGNET sign csrs1/*.csr --dir ca --profile server --out-dir out1 2>err1 & p1=$!; } &&
	{ $SIGNET sign csrs2/*.csr --dir ca2 --profile server --out-dir out2 2>err2 & p2=$!; } &&
	wait $p1 && wait $p2 &&
	test $(ls out1/*.crt | wc -l) = 40 && test $(ls out2/*.crt | wc -l) = 40 &&
	$SIGNET list --dir ca2 --json >all.json &&
	"$PYTHON" -c "
import json; r = json.load(open(\"all.json\"))
assert len(r) == 84, len(r)
serials = [x[\"serial\"] for x in r]
assert len(set(serials)) == len(serials), \"duplicate serial\"
"
'

test_expect_success 'every certificate handed out is recorded' '
	for f in out1/*.crt out2/*.crt; do
		s=$(openssl x509 -in $f -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
		grep -q "\"$s\"" all.json || { echo "missing $s"; exit 1; }
	done
'

test_expect_code 9 'an unreachable database is one clear line, exit 9' '
	cp -a ca ca3 &&
	sed -i "s|127.0.0.1:$PGPORT|127.0.0.1:1|" ca3/signet.json &&
	c=0; $SIGNET list --dir ca3 2>err || c=$?
	test $(wc -l <err) = 1 && grep -q "postgresql: cannot connect" err && exit $c
'

if $SIGNET revoke --help >/dev/null 2>&1; then
	test_expect_success 'revocation goes through PostgreSQL too' '
		s=$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2) &&
		$SIGNET revoke "$s" --dir ca --reason keyCompromise &&
		$SIGNET list --dir ca2 --status revoked --json | grep -qi "$(echo $s | tr A-F a-f | sed "s/^0*//")" &&
		{ $SIGNET revoke "$s" --dir ca2 2>/dev/null; test $? = 11; }
	'
fi

if $SIGNET ocsp serve --help >/dev/null 2>&1; then
	OP=$(free_port)
	test_expect_success 'an OCSP responder on a PostgreSQL CA sees a revocation made by another instance' '
		$SIGNET issue carol --dir ca --profile client >/dev/null &&
		{ $SIGNET ocsp serve --dir ca --listen 127.0.0.1:$OP --poll-ms 200 >ocsp.log 2>&1 &
		  echo $! >ocsp.pid; } &&
		wait_port 127.0.0.1 $OP &&
		openssl ocsp -issuer ca/intermediate.crt -cert carol.crt -url http://127.0.0.1:$OP \
			-CAfile ca/root.crt >o1.txt 2>&1 && grep -q "carol.crt: good" o1.txt &&
		$SIGNET revoke carol.crt --dir ca2 --reason superseded >/dev/null &&
		for i in $(seq 1 50); do
			openssl ocsp -issuer ca/intermediate.crt -cert carol.crt -url http://127.0.0.1:$OP \
				-CAfile ca/root.crt >o2.txt 2>&1
			grep -q "carol.crt: revoked" o2.txt && break
			sleep 0.1
		done &&
		grep -q "carol.crt: revoked" o2.txt && grep -q "Reason: superseded" o2.txt
	'
	test_on_exit 'kill $(cat "$TRASH/ocsp.pid")'
fi

test_done
