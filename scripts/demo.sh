#!/bin/sh
# make demo: the seeds' two-customer system (../shared/seeds/003), natively.
#  1. the PKI (their genpki.sh) with isthmus pki in ./demo/pki: customer A's
#     IoT gateway "agw", customer B's "bgw", the shared cloud gateway
#     "cloudgw", and one device certificate carrying its MAC address;
#  2. the topology on 127.0.0.1: back-end servers asrv1, asrv2 (A) and
#     bsrv1 (B), the cloud gateway and both edges, from examples/*.conf.
#     Devices a1 and b1 send plain HTTP to "their server" (their edge's
#     listener); A's requests are balanced over asrv1/asrv2; A never
#     reaches B.
set -eu
cd "$(dirname "$0")/.."
BIN=$(cd "$(dirname "${1:-build/release/isthmus}")" && pwd)/$(basename "${1:-build/release/isthmus}")
PKI=demo/pki

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ isthmus %s\n' "$*"; "$BIN" "$@"; }

# The demo owns ./demo: start from a clean slate each time.
rm -rf demo
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

# ---------------------------------------------------------------- topology
pin() { "$BIN" pki show --json "$1" | sed 's/.*"spki_sha256":"sha256:\([^"]*\)".*/\1/'; }

step "configs from examples/, with the pins filled in"
# The daemons run as whoever runs the demo: its files are in ./demo. As
# root that is `user = root`, which they log as a warning (a real site
# says user = isthmus: docs/edge.md, "Running as root").
me=$(id -un)
sed -e "s/AGW_SPKI_PIN/$(pin $PKI/agw.crt)/" -e "s/BGW_SPKI_PIN/$(pin $PKI/bgw.crt)/" -e "s/^listen = 0.0.0.0:7443/listen = 127.0.0.1:7443/" \
    -e "s/^readiness_udp = 0.0.0.0:7444/readiness_udp = 127.0.0.1:7444/" \
    -e "s/^#user = isthmus$/user = $me/" -e "s/^#admin_socket = /admin_socket = /" \
    -e "s|^state = /var/lib/isthmus/cloud-state.db|state = cloud-state.db|" \
    examples/cloud.conf > demo/cloud.conf
for e in agw bgw; do
    sed -e "s/CLOUD_SPKI_PIN/$(pin $PKI/cloudgw.crt)/" -e "s/^#user = isthmus$/user = $me/" \
        -e "s/^#admin_socket = /admin_socket = /" examples/edge-$e.conf > demo/edge-$e.conf
done
# agw's site lets the cloud run readiness tests (not in the default policy)
sed -i -e 's/^#manage = status, doctor, purge-cache, prefetch, reload, logs, readiness$/manage = status, doctor, purge-cache, prefetch, readiness/' demo/edge-agw.conf
# a device HTTPS API at site A with a self-signed certificate (no host
# name in it), polled by agw every 2 s and sent to A's config service
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj /CN=DMU801-J4410123 -keyout demo/weather-1.key -out demo/weather-1.crt 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj /CN=DMU801-J4410123 -keyout demo/mitm.key -out demo/mitm.crt 2>/dev/null
(umask 077; printf 'demo:s3cret-pw\n' > demo/weather-1.secret)
printf '\n[collector weather-1]\nurl = https://127.0.0.1:8443/api/v1/reports\nservice = config\ninterval = 2s\ntimeout = 2s\nauth = basic weather-1.secret\nheader = Accept: application/json\n' >> demo/edge-agw.conf
# customer A asking for a service only B has (to show the refusal)
sed -e 's/127.0.0.1:9001/127.0.0.1:9011/' -e 's/^service = telemetry/service = billing/' \
    -e 's/^admin_socket = agw.sock/admin_socket = agw-probe.sock/' -e '/^metrics = /d' \
    -e '/^\[listener config\]/,$d' \
    demo/edge-agw.conf > demo/edge-agw-probe.conf
printf '\n[service B/billing]\nbackends = 127.0.0.1:8003\n' >> demo/cloud.conf
grep -E '^\[|^pin|^backends' demo/cloud.conf

PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
bg() { "$@" & PIDS="$PIDS $!"; }
wait_line() {  # wait_line FILE PATTERN
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then echo "timeout waiting for '$2' in $1"; cat "$1"; exit 1; fi
        sleep 0.1
    done
}
device() {  # device NAME PORT: one plain-HTTP POST, like the seed's curl
    python3 - "$@" <<'PY'
import sys, time, urllib.request
name, port = sys.argv[1], sys.argv[2]
try:
    body = f"device={name} ts={time.time():.0f}".encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/data", body, timeout=5) as r:
        print(f"  {name} -> {r.read().decode().strip()}")
except Exception as e:
    print(f"  {name} -> refused ({e.__class__.__name__}: connection closed)")
PY
}

step "back-end servers: asrv1, asrv2, rsrv1 (customer A), bsrv1 (customer B); a weather station's HTTPS API on LAN A"
bg python3 scripts/demo_device.py weather-1 8443 demo/weather-1.crt demo/weather-1.key > demo/weather-1.log
bg python3 scripts/demo_server.py asrv1 8001 > demo/asrv1.log
bg python3 scripts/demo_server.py asrv2 8002 > demo/asrv2.log
bg python3 scripts/demo_server.py bsrv1 8003 > demo/bsrv1.log
bg python3 scripts/demo_server.py rsrv1 8004 > demo/rsrv1.log
RSRV=$!

step "cloud gateway and the two edges"
run cloud -c demo/cloud.conf --check
bg "$BIN" cloud -c demo/cloud.conf > demo/cloud.out 2> demo/cloud.log
wait_line demo/cloud.out ready
for e in agw bgw agw-probe; do
    bg "$BIN" edge -c demo/edge-$e.conf > demo/$e.out 2> demo/$e.log
    wait_line demo/$e.log tunnel_up
done
cat demo/cloud.out demo/agw.out demo/bgw.out

step "device a1 (LAN A) talks to its server four times: balanced over asrv1/asrv2"
for i in 1 2 3 4; do device a1 9001; done

step "device b1 (LAN B) talks to its server"
device b1 9002

step "device a1 asks for its configuration over HTTP mode (listener 9080): the request crosses the tunnel as HTTP/2, the server learns tenant and edge"
device a1 9080

step "three devices fetch the same 4 MB firmware through the edge's cache (listener 9080): the servers are asked once"
for d in a1 a2 a3; do
    python3 - "$d" <<'PY'
import hashlib, sys, urllib.request
with urllib.request.urlopen("http://127.0.0.1:9080/fw/phone-9.2.bin", timeout=10) as r:
    body = r.read()
    print(f"  {sys.argv[1]} -> {len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}..., Age: {r.headers.get('Age')}")
PY
done
printf '  firmware requests the servers saw: %s\n' "$(cat demo/asrv1.log demo/asrv2.log | grep -c 'GET /fw/')"
run cache list -c demo/edge-agw.conf

step "customer A asks for B's billing service: refused at the cloud"
device a1 9011

step "what the cloud is doing (isthmus status, the ipsec statusall of this system)"
run status -c demo/cloud.conf

step "the cloud's fleet registry: every edge it has admitted, kept across restarts (isthmus edges)"
run edges -c demo/cloud.conf

step "the cloud's operator asks edge agw, down its own tunnel, for its version and tunnel (isthmus manage; recorded first)"
run manage -c demo/cloud.conf agw status --wait 20s
step "the operator asks for agw's logs, which its site's policy does not allow: refused at the edge (exit 1)"
run manage -c demo/cloud.conf agw logs 5 --wait 20s || printf '  (exit %s)\n' "$?"
step "a network readiness test of site agw (profile voice: path, PINGs, a voice-like UDP train, goodput), then the report"
printf '$ isthmus manage -c demo/cloud.conf agw readiness voice --wait 60s > demo/readiness-voice.txt\n'
"$BIN" manage -c demo/cloud.conf agw readiness voice --wait 60s > demo/readiness-voice.txt
run readiness -c demo/cloud.conf agw
run readiness -c demo/cloud.conf agw --format html -o demo/readiness-agw.html
printf '  the report with its plots, one self-contained file: demo/readiness-agw.html\n'
run audit -c demo/cloud.conf

step "trust on first use: agw met the weather station's self-signed certificate, made a handshake only (no request, no credentials) and waits for a person"
wait_line demo/agw.log 'event=trust_learned'
run trust -c demo/edge-agw.conf list --pending
printf '  the station itself saw no request: %s lines in its log\n' "$(grep -c 'GET' demo/weather-1.log || true)"
step "the site's IT checks the fingerprint against the station's label and approves the list it checked (each line names its fingerprint)"
printf '$ isthmus trust -c demo/edge-agw.conf list --pending > demo/review.txt\n'
"$BIN" trust -c demo/edge-agw.conf list --pending > demo/review.txt
run trust -c demo/edge-agw.conf approve --from demo/review.txt
wait_line demo/asrv1.log 'from collector weather-1' 2>/dev/null || wait_line demo/asrv2.log 'from collector weather-1'
step "from now on only that certificate: the station's reports reach A's servers through the tunnel, with their origin"
sleep 2
grep -h 'from collector weather-1' demo/asrv1.log demo/asrv2.log | head -2
grep -m1 'weather-1: GET' demo/weather-1.log
step "a man in the middle takes the station's address with another self-signed certificate: refused in the handshake, no credentials sent, and it waits for a person"
kill "$(cat demo/weather-1.pid 2>/dev/null)" 2>/dev/null || true
pkill -f 'demo_device.py weather-1' 2>/dev/null || true
sleep 0.3
bg python3 scripts/demo_device.py mitm 8443 demo/mitm.crt demo/mitm.key > demo/mitm.log
wait_line demo/agw.log 'event=trust_mismatch'
grep -m1 'event=trust_mismatch' demo/agw.log
printf '  what the man in the middle received: %s requests\n' "$(grep -c 'GET' demo/mitm.log || true)"
run trust -c demo/edge-agw.conf list --pending

reading() {  # reading N: meter m1 POSTs reading N to agw's listener 9180
    python3 - "$1" <<'PY'
import sys, urllib.request
body = ('{"meter": "m1", "n": %s, "kWh": %s}' % (sys.argv[1], 1200 + int(sys.argv[1]))).encode()
req = urllib.request.Request("http://127.0.0.1:9180/readings", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=15) as r:
    print(f"  meter m1, reading {sys.argv[1]} -> {r.status} {r.reason}")
PY
}
step "store and forward: meter m1 posts a reading to A's readings service (listener 9180); its server rsrv1 is up"
reading 1
step "rsrv1 goes down: agw writes each reading to its queue (fsynced) and answers 202; the meter never sees the failure"
kill "$RSRV"
sleep 0.3
for n in 2 3 4; do reading $n; done
run queue -c demo/edge-agw.conf list
step "rsrv1 is back: agw replays the readings in the order it accepted them, each with its Idempotency-Key and the time it took it"
bg python3 scripts/demo_server.py rsrv1 8004 >> demo/rsrv1.log
i=0
until [ "$(grep -c 'replayed' demo/rsrv1.log)" -ge 3 ]; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then echo "timeout waiting for the replays"; cat demo/rsrv1.log; exit 1; fi
    sleep 0.1
done
cat demo/rsrv1.log
run queue -c demo/edge-agw.conf list

step "what edge agw is doing (isthmus status, what the customer's IT runs)"
run status -c demo/edge-agw.conf

step "edge agw's path to its cloud, step by step (isthmus doctor: what the customer's IT runs first)"
run doctor -c demo/edge-agw.conf

step "the probe edge names a service its tenant does not have: isthmus doctor says which step fails and why (exit 1)"
run doctor -c demo/edge-agw-probe.conf || printf '  (exit %s)\n' "$?"

step "the same as Prometheus metrics (loopback only): http://127.0.0.1:9100/metrics"
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=5).read().decode(), end="")' |
    grep -E '^isthmus_(tunnels_up|streams_opened_total|streams_refused_total\{tenant="A",reason="unknown_service"|backend_up)'
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9101/metrics", timeout=5).read().decode(), end="")' |
    grep -E '^isthmus_cache_(requests_total\{result="(hit|miss)"|saved_bytes_total)'

step "the cloud's log: one key=value line per event"
grep -E 'event=(ready|tunnel_up|stream_refused)' demo/cloud.log

printf '\nDone. Configs, logs and the PKI are in ./demo.\n'
