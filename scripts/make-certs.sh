#!/usr/bin/env bash
# Makes the throwaway PKI of the tests and the demo (never for production):
#
#   scripts/make-certs.sh DIR
#
#   ca.crt              root CA
#   inter.crt           intermediate CA, signed by the root
#   server.crt/.key     localhost, *.example.com, *.demo.local, 127.0.0.1
#   backend.crt/.key    backend.internal, 127.0.0.1 (root-signed)
#   client.crt/.key     client "alice" signed by the intermediate;
#                       client-chain.crt is client + intermediate
#   other-ca.crt, stranger.crt/.key   a client of an unrelated CA
#   expired.crt/.key    a client cert of the intermediate, long expired
#
# Idempotent: DIR/stamp says the set is there, in this version.
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

# the stamp names this version of the set: a change here makes a new one
stamp=2
[ "$(cat stamp 2>/dev/null)" = "$stamp" ] && exit 0
rm -rf ca.db && rm -f ./*.crt ./*.key ./*.srl ca.cnf

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# $1 name, $2 subject, $3 issuer prefix, $4 extensions, $5 days, [$6 start]
sign() {
    key "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%b\n' "$4" > "$1.ext"
    if [ -n "${6:-}" ]; then
        # an expired certificate: openssl ca can backdate, x509 cannot
        openssl ca -batch -config ca.cnf -cert "$3.crt" -keyfile "$3.key" \
            -startdate "$6" -enddate "$7" -extfile "$1.ext" \
            -in "$1.csr" -out "$1.crt" -notext 2>/dev/null
    else
        openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" \
            -CAcreateserial -days "$5" -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    fi
    rm -f "$1.csr" "$1.ext"
}

key ca.key
openssl req -x509 -new -key ca.key -subj "/CN=kedge test root CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null

key other-ca.key
openssl req -x509 -new -key other-ca.key -subj "/CN=unrelated CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out other-ca.crt 2>/dev/null

sign inter "/CN=kedge test intermediate CA" ca \
    "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign" 3650

sign server "/CN=localhost" ca \
    "subjectAltName=DNS:localhost,DNS:*.example.com,DNS:*.demo.local,IP:127.0.0.1\nextendedKeyUsage=serverAuth" 3650

sign backend "/CN=backend.internal" ca \
    "subjectAltName=DNS:backend.internal,IP:127.0.0.1\nextendedKeyUsage=serverAuth" 3650

sign client "/CN=alice" inter \
    "subjectAltName=DNS:alice.clients.example.com,URI:spiffe://example.com/ns/default/sa/alice\nextendedKeyUsage=clientAuth" 3650
cat client.crt inter.crt > client-chain.crt

sign stranger "/CN=mallory" other-ca "extendedKeyUsage=clientAuth" 3650

# a minimal "openssl ca" setup, for the backdated certificate only
mkdir -p ca.db
: > ca.db/index.txt
echo 1000 > ca.db/serial
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = test
[ test ]
dir = ca.db
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = any
[ any ]
commonName = supplied
CNF
sign expired "/CN=expired" inter "extendedKeyUsage=clientAuth" 0 \
    20200101000000Z 20200201000000Z

cat inter.crt ca.crt > clients-ca.crt
echo "$stamp" > stamp
