#!/bin/bash
# t0070-sign-batch.sh - batch signing: many CSRs in one `signet sign
# --out-dir` call give X.crt and X.chain.pem per CSR, all recorded (with
# --out instead, one file of every certificate in CSR order); serials
# stay unique (and >= 64 bits, <= 20 octets) over hundreds of issuances;
# one bad CSR aborts the whole batch with nothing recorded or written.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca
N=200

count_records() {
	$SIGNET list --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))"
}

test_expect_success "setup: CA and $N CSRs (made by Python cryptography)" '
	ca_init ca &&
	mkdir csrs &&
	$PYTHON - $N <<-PY
	import sys
	from cryptography import x509
	from cryptography.x509.oid import NameOID
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.hazmat.primitives.asymmetric import ec
	key = ec.generate_private_key(ec.SECP256R1())
	open("csrs.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
	    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
	for i in range(int(sys.argv[1])):
	    name = f"host{i:03d}.example.com"
	    csr = (x509.CertificateSigningRequestBuilder()
	        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
	        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
	        .sign(key, hashes.SHA256()))
	    open(f"csrs/host{i:03d}.csr", "wb").write(csr.public_bytes(serialization.Encoding.PEM))
	PY
	test "$(ls csrs | wc -l)" = $N
'

test_expect_success "one sign call issues all $N into --out-dir" '
	before=$(count_records) &&
	$SIGNET sign --profile server --out-dir out csrs/*.csr 2>err &&
	grep -q "issued $N certificates" err &&
	test "$(ls out/*.crt | wc -l)" = $N &&
	test "$(ls out/*.chain.pem | wc -l)" = $N &&
	test $(count_records) = $((before + N))
'

test_expect_success 'each X.crt is for X.csr and verifies; each chain has 2 certs' '
	for i in 000 057 123 199; do
		openssl x509 -in out/host$i.crt -noout -subject | grep -q "host$i.example.com" &&
		openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
			-untrusted ca/intermediate.crt out/host$i.crt >/dev/null &&
		test "$(grep -c BEGIN out/host$i.chain.pem)" = 2 || exit 1
	done
'

test_expect_success 'Python cryptography loads every batch certificate' '
	py_check_cert server ca/intermediate.crt out/*.crt >py.out && grep -q "ok $N" py.out
'

test_expect_success 'every batch certificate is in list --json, by name and serial' '
	$SIGNET list --json >l.json &&
	$PYTHON - <<-PY
	import json, glob
	from cryptography import x509
	recs = json.load(open("l.json"))
	names = {r["name"] for r in recs}
	serials = {r["serial"] for r in recs}
	for f in glob.glob("out/*.crt"):
	    stem = f[4:-4]
	    assert stem in names, stem
	    s = format(x509.load_pem_x509_certificate(open(f, "rb").read()).serial_number, "x")
	    assert s in serials, (f, s)
	PY
'

test_expect_success 'serials are unique across the batch and 20 more single calls' '
	for i in $(seq 1 20); do
		$SIGNET sign csrs/host000.csr --profile server --out single$i.crt || exit 1
	done &&
	$PYTHON -c "
import sys
from cryptography import x509
for f in sys.argv[1:]:
    print(x509.load_pem_x509_certificate(open(f, \"rb\").read()).serial_number)
" out/*.crt single*.crt | sort >serials &&
	test "$(wc -l <serials)" = $((N + 20)) &&
	test -z "$(uniq -d serials)" &&
	test "$($SIGNET list --json | $PYTHON -c "import json,sys; r=json.load(sys.stdin); print(len(r)-len({x[\"serial\"] for x in r}))")" = 0
'

test_expect_success 'serials: issuance time / 4, then 112 random bits (Python reads them)' '
	t0=$(date +%s) &&
	$SIGNET sign --profile server --out timed.pem csrs/host0[0-9][0-9].csr 2>/dev/null &&
	t1=$(date +%s) &&
	$PYTHON - $t0 $t1 <<-PY
	import sys
	from cryptography import x509
	t0, t1 = int(sys.argv[1]), int(sys.argv[2])
	end = b"-----END CERTIFICATE-----\n"
	certs = [x509.load_pem_x509_certificate(p + end)
	         for p in open("timed.pem", "rb").read().split(end) if p.strip()]
	assert len(certs) == 100, len(certs)
	low = set()
	for c in certs:
	    s = c.serial_number
	    assert (s.bit_length() + 7) // 8 == 18, hex(s)
	    assert t0 // 4 <= s >> 112 <= t1 // 4, (hex(s), t0, t1)
	    low.add(s & ((1 << 112) - 1))
	assert len(low) == 100
	# 100 x 112 random bits: about half of them set
	ones = sum(bin(v).count("1") for v in low)
	assert 0.45 < ones / (100 * 112) < 0.55, ones
	PY
'

test_expect_success 'the database refuses a duplicate serial by itself' '
	s=$(sqlite3 ca/signet.db "SELECT serial FROM certs LIMIT 1") &&
	! sqlite3 ca/signet.db "INSERT INTO certs (serial, fingerprint, issuer, subject, profile, not_before, not_after, issued_at, der) VALUES ('"'"'$s'"'"', '"'"'x'"'"', '"'"'i'"'"', '"'"'s'"'"', '"'"'p'"'"', 0, 0, 0, x'"'"'00'"'"')" 2>/dev/null
'

test_expect_success 'one bad CSR in a batch: nothing recorded, nothing written (6)' '
	before=$(count_records) &&
	mkdir bad && cp csrs/host001.csr csrs/host002.csr bad/ &&
	openssl req -in csrs/host003.csr -outform DER -out b.der &&
	$PYTHON -c "d=bytearray(open(\"b.der\",\"rb\").read()); d[-5]^=1; open(\"b2.der\",\"wb\").write(d)" &&
	openssl req -inform DER -in b2.der -out bad/zz-broken.csr &&
	expect_fail 6 "bad/zz-broken.csr" $SIGNET sign --profile server --out-dir badout bad/*.csr &&
	test $(count_records) = $before &&
	test -z "$(ls badout 2>/dev/null)"
'

test_expect_success 'several CSRs with --out: one file, certificates in CSR order' '
	before=$(count_records) &&
	$SIGNET sign --profile server --out bundle.pem csrs/*.csr 2>err &&
	grep -q "issued $N certificates to bundle.pem" err &&
	test $(count_records) = $((before + N)) &&
	test "$(grep -c "BEGIN CERTIFICATE" bundle.pem)" = $N &&
	$PYTHON - $N <<-PY
	import re, sys
	from cryptography import x509
	from cryptography.x509.oid import NameOID
	pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n",
	                  open("bundle.pem", "rb").read(), re.S)
	assert len(pems) == int(sys.argv[1]), len(pems)
	serials = set()
	for i, p in enumerate(pems):
	    c = x509.load_pem_x509_certificate(p)
	    cn = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
	    assert cn == f"host{i:03d}.example.com", (i, cn)
	    serials.add(c.serial_number)
	    open(f"b{i:03d}.pem", "wb").write(p)
	assert len(serials) == len(pems)
	PY
	for i in 000 099 199; do
		openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
			-untrusted ca/intermediate.crt b$i.pem >/dev/null || exit 1
	done
'

test_expect_success 'several CSRs without --out: the certificates on stdout' '
	$SIGNET sign --profile server csrs/host001.csr csrs/host002.csr >two.pem 2>err &&
	test "$(grep -c "BEGIN CERTIFICATE" two.pem)" = 2 &&
	grep -q "issued 2 certificates to stdout" err
'

test_expect_success 'one bad CSR in a --out batch: nothing recorded, no file (6)' '
	before=$(count_records) &&
	expect_fail 6 "bad/zz-broken.csr" $SIGNET sign --profile server --out badbundle.pem bad/*.csr &&
	test $(count_records) = $before &&
	test ! -e badbundle.pem
'

test_expect_success 'a bad CSR amid 100 (signed on several threads): nothing recorded (6)' '
	before=$(count_records) &&
	mkdir bigbad && cp csrs/host0[0-9][0-9].csr bigbad/ &&
	cp bad/zz-broken.csr bigbad/host050x.csr &&
	expect_fail 6 "bigbad/host050x.csr" $SIGNET sign --profile server --out big.pem bigbad/*.csr &&
	expect_fail 6 "bigbad/host050x.csr" $SIGNET sign --profile server --out-dir bigout bigbad/*.csr &&
	test $(count_records) = $before &&
	test ! -e big.pem && test -z "$(ls bigout 2>/dev/null)"
'

test_expect_success 'a missing CSR amid 100 is named before the CA key is unlocked (3)' '
	before=$(count_records) &&
	echo "not the passphrase" >wrong.pass &&
	expect_fail 3 "bigbad/host999.csr: cannot open" env SIGNET_PASS_FILE=wrong.pass \
		$SIGNET sign --profile server --out big.pem csrs/host0[0-9][0-9].csr bigbad/host999.csr &&
	mkdir dir.csr &&
	expect_fail 3 "dir.csr: is a directory" env SIGNET_PASS_FILE=wrong.pass \
		$SIGNET sign --profile server --out big.pem csrs/host0[0-9][0-9].csr dir.csr &&
	expect_fail 5 "" env SIGNET_PASS_FILE=wrong.pass \
		$SIGNET sign --profile server --out big.pem csrs/host0[0-9][0-9].csr &&
	test $(count_records) = $before && test ! -e big.pem
'

test_expect_success '--chain with several CSRs is a usage error (2)' '
	expect_fail 2 "single CSR" $SIGNET sign --profile server --out x.pem --chain c.pem \
		csrs/host001.csr csrs/host002.csr &&
	test ! -e x.pem
'

test_expect_success '--out-dir with --out is a usage error (2)' '
	expect_fail 2 "excludes" $SIGNET sign --profile server --out-dir o2 --out x.crt csrs/host001.csr
'

test_expect_success 'a CSR on stdin amid 100 (several threads) keeps its place' '
	before=$(count_records) &&
	$SIGNET sign --profile server --out mixed.pem csrs/host0[0-4][0-9].csr - \
		csrs/host0[5-9][0-9].csr <csrs/host150.csr 2>err &&
	grep -q "issued 101 certificates" err &&
	test $(count_records) = $((before + 101)) &&
	$PYTHON - <<-PY
	import re
	from cryptography import x509
	from cryptography.x509.oid import NameOID
	pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n",
	                  open("mixed.pem", "rb").read(), re.S)
	cns = [x509.load_pem_x509_certificate(p).subject
	       .get_attributes_for_oid(NameOID.COMMON_NAME)[0].value for p in pems]
	want = [f"host{i:03d}.example.com" for i in range(50)] + ["host150.example.com"] + \
	       [f"host{i:03d}.example.com" for i in range(50, 100)]
	assert cns == want, cns
	PY
'

test_expect_success 'a bad first CSR of 100 is reported, wherever it was checked (6)' '
	before=$(count_records) &&
	mkdir badfirst && cp csrs/host0[0-9][0-9].csr badfirst/ &&
	cp bad/zz-broken.csr badfirst/host000.csr &&
	for i in 1 2 3; do
		expect_fail 6 "badfirst/host000.csr" $SIGNET sign --profile server --out bf.pem \
			badfirst/*.csr || exit 1
	done &&
	test $(count_records) = $before && test ! -e bf.pem
'

test_expect_success 'of two bad CSRs in 100, the first in order is reported (4)' '
	before=$(count_records) &&
	mkdir badtwo && cp csrs/host0[0-9][0-9].csr badtwo/ &&
	printf "not a CSR\n" >badtwo/host020.csr &&
	cp bad/zz-broken.csr badtwo/host080.csr &&
	for i in 1 2 3; do
		expect_fail 4 "badtwo/host020.csr" $SIGNET sign --profile server --out b2.pem \
			badtwo/*.csr || exit 1
		expect_fail 4 "badtwo/host020.csr" $SIGNET sign --profile server \
			--out-dir b2out badtwo/*.csr || exit 1
	done &&
	test $(count_records) = $before && test ! -e b2.pem && test -z "$(ls b2out 2>/dev/null)"
'

test_expect_success 'a batch against a directory that is no CA fails cleanly (8)' '
	expect_fail 8 "" $SIGNET sign --profile server --dir noca --out nc.pem csrs/*.csr &&
	test ! -e nc.pem && test ! -e noca
'

test_expect_success 'no temporary files left in out/' '
	! ls -a out | grep -q "\.tmp\."
'

test_done
