#!/bin/bash
# t7110-soak-ocsp.sh - `signet ocsp serve` under a bounded soak load
# (issue 7: long-running processes show no leaks and stable memory).
#
# The responder (2 worker threads, poll 200 ms) answers four client threads
# for a fixed time: cacheable requests (SHA-1 and SHA-256 CertIDs) for good,
# revoked and unknown serials, requests with a fresh nonce (signed each
# time), several CertIDs in one request, GET, keep-alive and pipelined
# requests, and hostile input: garbage and truncated DER, another CA's
# CertID, bad HTTP (request line, method, chunked, huge head, oversized
# body) and clients that vanish mid-request (FIN or RST).  Meanwhile
# `signet issue` and `signet revoke` in another process move the database,
# so the certificate index and every answer cached on it are rebuilt and
# freed again and again.  Answers are checked with Python's cryptography
# (an independent decoder).  VmRSS is read from /proc after a warm-up and
# at the end, at quiet moments, and must stay within the bound below; then
# SIGTERM, and the process must exit 0.
#
# Under an ASan build (detected from the binary, or SOAK_ASAN=1) the
# responder runs with detect_leaks=1 and log_path in $TRASH: LeakSanitizer's
# report at exit, and any ASan/UBSan report, must be absent.
#
# Figures: the test prints them (grep '^# soak') - see docs/ROBUSTNESS.md.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
[ -n "$PYTHON" ] || test_skip_all "no python3 with cryptography"
command -v openssl >/dev/null || test_skip_all "no openssl"
[ -r /proc/self/status ] || test_skip_all "no /proc (VmRSS)"

soak_durations

P=$(free_port)
rev_pki --ocsp-url "http://127.0.0.1:$P" || { echo "cannot create the CA"; exit 1; }
"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null 2>&1 || { echo "cannot revoke b"; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-out other.crt -subj /CN=other -days 1 2>/dev/null
openssl ocsp -issuer ca/intermediate.crt -cert a.crt -cert b.crt -cert c.crt \
	-reqout multi.der >/dev/null 2>&1
openssl ocsp -issuer ca/intermediate.crt -serial 0x0123456789 -no_nonce \
	-reqout unknown.der >/dev/null 2>&1

# The responder is a child of this shell (not disowned) so that its exit
# status can be collected after SIGTERM.
if [ "$ASAN" = 1 ]; then
	# A small quarantine (ASan's default keeps 256 MiB of freed memory)
	# lets RSS settle within the warm-up; see t7100.
	SRV_ENV=(ASAN_OPTIONS="detect_leaks=1:log_path=$TRASH/asan:quarantine_size_mb=4:abort_on_error=0"
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TRASH/ubsan")
else
	SRV_ENV=()
fi
env "${SRV_ENV[@]}" "$SIGNET" ocsp serve --listen "127.0.0.1:$P" --threads 2 --poll-ms 200 \
	--request-timeout 3 --idle-timeout 5 >srv.log 2>&1 &
PID=$!
test_on_exit "kill -KILL $PID"
wait_port 127.0.0.1 "$P" 400 || { cat srv.log; exit 1; }

test_expect_success "bounded load: ${WARM}s warm-up, ${MAIN}s soak, index rebuilds" '
	"$PYTHON" - "$P" "$TRASH" "$PID" "$WARM" "$MAIN" "$SIGNET" >load.out 2>&1 <<-\PY
	import base64, http.client, itertools, os, socket, struct, subprocess, sys, threading, time
	from cryptography import x509
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.x509 import ocsp
	port, trash, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
	warm, main, signet = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
	MAX_PER_PHASE = 200000          # a count bound besides the time bound
	load = lambda n: x509.load_pem_x509_certificate(open(os.path.join(trash, n), "rb").read())
	issuer, other = load("ca/intermediate.crt"), load("other.crt")
	certs = {n: load(n + ".crt") for n in "abc"}
	want = {"a": ocsp.OCSPCertStatus.GOOD, "b": ocsp.OCSPCertStatus.REVOKED}

	def req(cert, iss=issuer, h=hashes.SHA1(), nonce=False):
	    b = ocsp.OCSPRequestBuilder().add_certificate(cert, iss, h)
	    if nonce:
	        b = b.add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
	    return b.build().public_bytes(serialization.Encoding.DER)
	# A serial this CA never issued, under our issuer (made by openssl).
	unknown_req = open(os.path.join(trash, "unknown.der"), "rb").read()
	foreign_req = req(other, other)          # another CA: unauthorized
	multi = open(os.path.join(trash, "multi.der"), "rb").read()
	fixed = {n: req(c) for n, c in certs.items()}
	fixed256 = {n: req(c, h=hashes.SHA256()) for n, c in certs.items()}

	lock = threading.Lock()
	counts, errors = {}, []
	def count(k, n=1):
	    with lock:
	        counts[k] = counts.get(k, 0) + n
	def error(msg):
	    with lock:
	        if len(errors) < 20:
	            errors.append(msg)
	        counts["unexpected"] = counts.get("unexpected", 0) + 1

	def check(name, body, status=None):
	    r = ocsp.load_der_ocsp_response(body)
	    if status is not None:
	        if r.response_status != status:
	            error("%s: %s" % (name, r.response_status))
	        return
	    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
	        return error("%s: %s" % (name, r.response_status))
	    if name in want and r.certificate_status != want[name]:
	        error("%s: %s" % (name, r.certificate_status))
	    if name == "unknown" and r.certificate_status != ocsp.OCSPCertStatus.UNKNOWN:
	        error("unknown: %s" % r.certificate_status)

	def conn():
	    return http.client.HTTPConnection("127.0.0.1", port, timeout=20)
	def post(c, body):
	    c.request("POST", "/", body, {"Content-Type": "application/ocsp-request"})
	    r = c.getresponse()
	    return r.status, r.read()
	def keepalive(i):
	    c = conn()
	    for k, (name, body) in enumerate([("a", fixed["a"]), ("b", fixed256["b"]),
	                                      ("c", fixed["c"]), ("unknown", unknown_req)]):
	        st, d = post(c, body)
	        if st != 200:
	            error("%s: HTTP %d" % (name, st))
	        else:
	            check(name, d)
	    c.close()
	    count("answered", 4)
	def nonce(i):
	    name = "ab"[i % 2]
	    c = conn()
	    st, d = post(c, req(certs[name], nonce=True))
	    c.close()
	    check(name, d) if st == 200 else error("nonce: HTTP %d" % st)
	    count("answered")
	def several(i):
	    c = conn()
	    st, d = post(c, multi)
	    c.close()
	    if st != 200 or ocsp.load_der_ocsp_response(d).response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
	        error("multi: %d" % st)
	    count("answered")
	def get(i):
	    b64 = base64.b64encode(fixed["a"]).decode()
	    b64 = b64.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
	    c = conn()
	    c.request("GET", "/" + b64)
	    r = c.getresponse()
	    d = r.read()
	    c.close()
	    check("a", d) if r.status == 200 else error("GET: HTTP %d" % r.status)
	    count("answered")
	def pipelined(i):
	    one = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(fixed["c"]) + fixed["c"]
	    s = socket.create_connection(("127.0.0.1", port), timeout=20)
	    s.sendall(one * 5)
	    data = b""
	    while data.count(b"HTTP/1.1 200") < 5 or len(data) < 5 * 200:
	        b = s.recv(65536)
	        if not b:
	            break
	        data += b
	    s.close()
	    if data.count(b"HTTP/1.1 200") != 5:
	        error("pipelined: %r" % data[:100])
	    count("answered", 5)
	def bad_ocsp(i):
	    c = conn()
	    body = [os.urandom(64 + i % 100), fixed["a"][: 10 + i % 30], foreign_req][i % 3]
	    st, d = post(c, body)
	    c.close()
	    if st != 200:
	        return error("bad OCSP: HTTP %d" % st)
	    check("bad", d, [ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
	                     ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
	                     ocsp.OCSPResponseStatus.UNAUTHORIZED][i % 3])
	    count("malformed")
	def raw(data, expect, rst=False):
	    s = socket.create_connection(("127.0.0.1", port), timeout=20)
	    try:
	        s.sendall(data)
	        out = b""
	        if expect is not None:
	            while b"\r\n" not in out:
	                b = s.recv(4096)
	                if not b:
	                    break
	                out += b
	    except OSError:
	        out = b"(reset)"
	    if rst:
	        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	    s.close()
	    if expect is not None and expect not in out.split(b"\r\n")[0] and out != b"(reset)":
	        error("raw %r: %r" % (data[:30], out[:60]))
	def bad_http(i):
	    k = i % 6
	    if k == 0:
	        raw(b"HELLO\r\n\r\n", b" 400 ")
	    elif k == 1:
	        raw(b"DELETE / HTTP/1.1\r\n\r\n", b" 405 ")
	    elif k == 2:
	        raw(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b" 501 ")
	    elif k == 3:
	        raw(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b" 431 ")
	    elif k == 4:
	        raw(b"POST / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + b"x" * 100, b" 413 ")
	    else:
	        raw(b"POST / HTTP/1.1\r\n\r\n", b" 411 ")
	    count("bad_http")
	def vanish(i):
	    body = fixed["a"]
	    head = b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)
	    raw([head[:20], head, head + body[:30], b"GET /MEUw"][i % 4], None, rst=i % 2 == 0)
	    count("cut")

	mix = [keepalive, nonce, bad_ocsp, get, several, pipelined, bad_http, vanish,
	       nonce, keepalive, vanish, bad_ocsp]

	def client(tid, stop_at, budget):
	    i = tid
	    while time.monotonic() < stop_at and budget[0] > 0:
	        with lock:
	            budget[0] -= 1
	        try:
	            mix[i % len(mix)](i // len(mix))
	        except Exception as e:
	            error("%s: %r" % (mix[i % len(mix)].__name__, e))
	        i += 4

	changes, serials = [0], itertools.count(1)
	def mover(stop_at):
	    # Moves the database (another process, as an operator would), so
	    # the responder rebuilds its index and drops every cached answer.
	    while time.monotonic() < stop_at:
	        time.sleep(1.5)
	        n = next(serials)
	        name = "soak%d" % n
	        r = subprocess.run([signet, "issue", name, "--profile", "client",
	                            "--out-dir", trash], capture_output=True, timeout=60)
	        if r.returncode != 0:
	            error("issue: %r" % r.stderr[-200:])
	            continue
	        if n % 2 == 0:
	            r = subprocess.run([signet, "revoke", os.path.join(trash, name + ".crt")],
	                               capture_output=True, timeout=60)
	            if r.returncode != 0:
	                error("revoke: %r" % r.stderr[-200:])
	        changes[0] += 1

	def rss_kib():
	    for line in open("/proc/%d/status" % pid):
	        if line.startswith("VmRSS:"):
	            return int(line.split()[1])
	    raise RuntimeError("no VmRSS")
	def quiet_rss():
	    time.sleep(1.0)
	    return rss_kib()

	def phase(seconds):
	    stop_at = time.monotonic() + seconds
	    before = sum(v for k, v in counts.items() if k != "unexpected")
	    budget = [MAX_PER_PHASE]
	    ts = [threading.Thread(target=client, args=(t, stop_at, budget)) for t in range(4)]
	    ts.append(threading.Thread(target=mover, args=(stop_at,)))
	    samples = []
	    for t in ts:
	        t.start()
	    while any(t.is_alive() for t in ts):
	        time.sleep(1.0)
	        samples.append(rss_kib())
	    for t in ts:
	        t.join()
	    return sum(v for k, v in counts.items() if k != "unexpected") - before, samples

	rss0 = rss_kib()
	t0 = time.monotonic()
	n_warm, _ = phase(warm)
	rss_warm = quiet_rss()
	n_main, samples = phase(main)
	rss_end = quiet_rss()
	with open("soak.env", "w") as f:
	    for k, v in [("rss_start", rss0), ("rss_warm", rss_warm), ("rss_end", rss_end),
	                 ("rss_peak", max(samples + [rss_end])), ("n_warm", n_warm),
	                 ("n_main", n_main), ("changes", changes[0]),
	                 ("n_answered", counts.get("answered", 0)),
	                 ("n_malformed", counts.get("malformed", 0)),
	                 ("n_bad_http", counts.get("bad_http", 0)), ("n_cut", counts.get("cut", 0)),
	                 ("n_unexpected", counts.get("unexpected", 0)),
	                 ("elapsed", int(time.monotonic() - t0))]:
	        f.write("%s=%d\n" % (k, v))
	    f.write("rss_samples=\"%s\"\n" % " ".join(map(str, samples)))
	print("counts", counts)
	for e in errors:
	    print("unexpected:", e)
	PY
	cat soak.env && . ./soak.env &&
	test "$n_main" -gt 0 && test "$n_answered" -gt 0 && test "$n_malformed" -gt 0 &&
	test "$changes" -gt 0
'

. ./soak.env 2>/dev/null

test_expect_success 'every answer was right and every bad request got its error' '
	cat load.out && test "$n_unexpected" = 0
'

# The RSS bound: growth from the warm-up sample to the end sample must stay
# under max(20% of the warm-up RSS, 8 MiB).  After the warm-up every path
# has run and every structure is at its working size: the certificate
# index (rebuilt on every database change, the old one freed with the
# answers cached on it), the per-worker memo (a fixed table), glibc's
# per-thread arenas.  A healthy responder is flat from there, give or take
# allocator fragmentation (well under 1 MiB measured, docs/ROBUSTNESS.md),
# so 8 MiB does not flake on a loaded machine.  What it catches is memory
# that stays reachable and grows: an index or signed answers kept after
# their replacement (each rebuild here drops every cached answer; the soak
# makes tens of rebuilds and thousands of signatures), a per-connection
# buffer never returned (the soak makes thousands of connections).  Lost
# blocks of any size are LeakSanitizer's job (ASan pass).  20% keeps the
# bound fair when ASan makes the baseline large.
soak_finish responder "$PID"

echo "# soak ocsp: asan=$ASAN requests warm-up=${n_warm:-?} soak=${n_main:-?}" \
	"answered=${n_answered:-?} malformed=${n_malformed:-?} bad_http=${n_bad_http:-?}" \
	"cut=${n_cut:-?} db_changes=${changes:-?}"
echo "# soak ocsp: VmRSS start=${rss_start:-?} warm=${rss_warm:-?} peak=${rss_peak:-?}" \
	"end=${rss_end:-?} KiB; exit=$SOAK_RC; leak reports: $(cat asan.* ubsan.* 2>/dev/null | wc -c) bytes"
echo "# soak ocsp: VmRSS KiB each second of the soak: ${rss_samples:-?}"
test_done
