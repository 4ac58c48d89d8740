#!/usr/bin/env python3
"""gencsr.py DIR N - N ECDSA P-256 CSRs (DIR/csrNNNNN.csr) with a DNS SAN,
made by Python cryptography so that the CSR generation is not timed and is
independent of signet."""
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
key = None
for i in range(n):
    # A fresh key per CSR, like real clients.
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"host{i:05d}.bench.example"
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(out, f"csr{i:05d}.csr"), "wb") as f:
        f.write(csr.public_bytes(serialization.Encoding.PEM))
