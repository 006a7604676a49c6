#!/bin/sh
# make demo: the seed's two-customer PKI (../shared/seeds/003: genpki.sh),
# made with isthmus pki in ./demo/pki. Customer A's IoT gateway "agw",
# customer B's "bgw", the shared cloud gateway "cloudgw", and one device
# certificate carrying its MAC address. Each is shown and verified.
set -eu
BIN=${1:-build/release/isthmus}
PKI=demo/pki

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ isthmus %s\n' "$*"; "$BIN" "$@"; }

# The demo owns ./demo: start from a clean slate each time.
rm -rf "$PKI"
mkdir -p demo

step "root CA (offline in real life; Ed25519)"
run pki init "$PKI" --name "isthmus demo root CA"

step "cloud gateway certificate (TLS server)"
run pki issue cloud cloudgw --dns cloudgw.demo.example,localhost --ip 127.0.0.1 --ca "$PKI"

step "IoT gateway certificates, one per customer (TLS clients)"
run pki issue edge agw --tenant A --ca "$PKI"
run pki issue edge bgw --tenant B --ca "$PKI"

step "a device certificate with its MAC address (ECDSA P-256)"
run pki issue device 00:1b:63:84:45:e6 --vendor "Demo Devices" --ca "$PKI"

for c in cloudgw agw bgw 001b638445e6; do
    step "pki show $PKI/$c.crt"
    run pki show "$PKI/$c.crt"
    run pki verify "$PKI/$c.crt" --ca "$PKI"
done

step "the pins the cloud config will use (SPKI pins survive renewal)"
for c in agw bgw; do
    printf '%s  %s\n' "$c" "$("$BIN" pki show --json "$PKI/$c.crt" |
        sed 's/.*"spki_sha256":"\([^"]*\)".*/\1/')"
done

step "files"
ls -l "$PKI"
printf '\nDone: the PKI is in %s. Next: isthmus cloud and edge use it.\n' "$PKI"
