#!/bin/bash
# t5008-verify-ocsp: --ocsp asks the responder named in the certificate's
# AIA (here `openssl ocsp` on 127.0.0.1): good passes, revoked is 22, a
# certificate it does not know or a responder that is down is 26.
. "$(dirname "$0")/t5000-verify-pki.sh"

ocsp_leaf() { # NAME PORT
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s.example.com\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:%s/\n' \
		"$1" "$2" >"$1.ext"
	openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
		-sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}

# A minimal OCSP responder bound to 127.0.0.1, built on Python cryptography
# (an independent implementation): STATUS_FILE lines "name good|revoked|unknown".
responder() { # PORT
	exec "$PYTHON" - "$1" <<-'PY'
	import sys, datetime, http.server
	from cryptography import x509
	from cryptography.x509 import ocsp
	from cryptography.hazmat.primitives import hashes, serialization
	load = lambda f: x509.load_pem_x509_certificate(open(f, "rb").read())
	root = load("root.pem")
	key = serialization.load_pem_private_key(open("root.key", "rb").read(), None)
	certs = {}
	for line in open("status.txt"):
	    name, st = line.split()
	    c = load(name + ".pem"); certs[c.serial_number] = (c, st)
	class H(http.server.BaseHTTPRequestHandler):
	    def log_message(self, *a): pass
	    def do_POST(self):
	        req = ocsp.load_der_ocsp_request(self.rfile.read(int(self.headers["Content-Length"])))
	        cert, st = certs[req.serial_number]
	        now = datetime.datetime.now(datetime.timezone.utc)
	        status = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
	                  "unknown": ocsp.OCSPCertStatus.UNKNOWN}[st]
	        b = ocsp.OCSPResponseBuilder().add_response(
	            cert=cert, issuer=root, algorithm=hashes.SHA1(), cert_status=status,
	            this_update=now, next_update=now + datetime.timedelta(hours=1),
	            revocation_time=now if st == "revoked" else None,
	            revocation_reason=x509.ReasonFlags.key_compromise if st == "revoked" else None,
	        ).responder_id(ocsp.OCSPResponderEncoding.HASH, root)
	        for e in req.extensions:
	            if isinstance(e.value, x509.OCSPNonce):
	                b = b.add_extension(e.value, critical=False)
	        der = b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
	        self.send_response(200)
	        self.send_header("Content-Type", "application/ocsp-response")
	        self.send_header("Content-Length", str(len(der)))
	        self.end_headers(); self.wfile.write(der)
	http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
	PY
}

[ -n "$PYTHON" ] || test_skip_all "needs Python with cryptography for the OCSP responder"

test_expect_success 'setup: root, three leaves, an OCSP responder on 127.0.0.1' '
	make_ca root self &&
	port=$(free_port) && echo "$port" >port &&
	ocsp_leaf good "$port" && ocsp_leaf bad "$port" && ocsp_leaf stranger "$port" &&
	printf "good good\nbad revoked\nstranger unknown\n" >status.txt &&
	(responder "$port" >ocsp.log 2>&1 & echo $! >ocsp.pid) &&
	wait_port 127.0.0.1 "$port"
'
test_on_exit 'kill $(cat "$TRASH/ocsp.pid")'

test_expect_success 'a good certificate passes with --ocsp' '
	"$SIGNET" verify good.pem --trust root.pem --host good.example.com --ocsp --json >out.json &&
	grep "\"ocsp\"" out.json
'

test_expect_code 22 'a revoked one is refused, naming the responder' '
	"$SIGNET" verify bad.pem --trust root.pem --ocsp 2>err ||
	{ c=$?; grep "bad: revoked .* (keyCompromise) according to OCSP responder http://127.0.0.1:" err && exit $c; }
'

test_expect_success 'without --ocsp the revoked one is not looked up' '
	"$SIGNET" verify bad.pem --trust root.pem
'

test_expect_code 26 'one the responder does not know is unknown' '
	"$SIGNET" verify stranger.pem --trust root.pem --ocsp 2>err ||
	{ c=$?; grep "stranger: revocation status unknown" err && exit $c; }
'

test_expect_code 26 'a responder that is down is unknown, not good' '
	kill $(cat ocsp.pid) && sleep 0.2 &&
	"$SIGNET" verify good.pem --trust root.pem --ocsp 2>err ||
	{ c=$?; grep "good: revocation status unknown (OCSP http://127.0.0.1:" err && exit $c; }
'
test_done
