#!/bin/sh
# Installs the Debian packages one purpose needs, and nothing when they are
# all present (so it is quiet and fast on every run). As root it uses
# apt-get directly, otherwise sudo.
#
#   scripts/deps.sh [build]   make, make demo: compile, run the daemons and
#                             the demo
#   scripts/deps.sh check     make check, make fuzz: build, plus the tests'
#                             tools and servers
#   scripts/deps.sh bench     make bench: build, plus the peer gateways and
#                             load generators measured against
#   scripts/deps.sh deb       make deb, make package-test: build, plus
#                             debhelper, lintian, cmocka (the unit tests
#                             run in the package build) and debootstrap
#   scripts/deps.sh list PURPOSE
#                             prints the packages of PURPOSE, installs
#                             nothing
#
# No package installed here is left running as a service: a policy-rc.d
# keeps every service from starting during the install (unless the
# machine has its own), and the units of the packages this run installed
# are disabled afterwards, so they do not start at the next boot either.
# The tests and the bench start the servers they need themselves, with
# their own configurations, ports and directories.
set -eu

# Compiling (meson, gcc) and linking against the libraries SPEC names;
# libsystemd for sd_notify (the units' Type=notify); scdoc for the man
# pages; openssl and python3 for the demo (its certificates for a device
# that speaks TLS, its servers and devices).
BUILD="build-essential pkg-config meson ninja-build scdoc libsystemd-dev
libssl-dev libevent-dev libnghttp2-dev libhttp-parser-dev libinih-dev
libsqlite3-dev libjansson-dev libpq-dev
libcairo2-dev libfontconfig-dev fonts-dejavu-core
openssl python3"

# The tests: cmocka (unit), pytest and its helpers (system), the real
# servers and tools they start (PostgreSQL for the shared store, tinyproxy
# as a corporate proxy, sslsplit as an interceptor, nftables and iproute2
# for loss and namespaces, faketime for clocks, nginx, haproxy and h2 as
# backends, chromium to open the readiness report, groff and man-db to
# render the man pages, systemd for systemd-analyze on the units), clang
# for the fuzz harnesses.
CHECK="libcmocka-dev
python3-pytest python3-pytest-xdist python3-cryptography
python3-prometheus-client python3-pil python3-jsonschema python3-h2
postgresql tinyproxy sslsplit nftables iproute2 faketime
nginx-light haproxy chromium groff-base man-db systemd
clang libclang-rt-14-dev"

# make bench: the peers (HAProxy, stunnel, nginx as the backend),
# iperf3 and wrk, PostgreSQL for the store's write rate, h2 and pytest for
# the readiness bench's generator.
BENCH="nginx-light haproxy stunnel4 iperf3 wrk postgresql python3-h2
python3-pytest"

# make deb and make package-test (docs/packaging.md).
DEB="debhelper lintian libcmocka-dev debootstrap"

purpose=${1:-build}
case "$purpose" in
build) PKGS=$BUILD ;;
check) PKGS="$BUILD $CHECK" ;;
bench) PKGS="$BUILD $BENCH" ;;
deb) PKGS="$BUILD $DEB" ;;
list)
    case "${2:-build}" in
    build) echo $BUILD ;;
    check) echo $BUILD $CHECK ;;
    bench) echo $BUILD $BENCH ;;
    deb) echo $BUILD $DEB ;;
    *) echo "deps: list build|check|bench|deb" >&2; exit 2 ;;
    esac
    exit 0
    ;;
*)
    echo "usage: scripts/deps.sh [build|check|bench|deb|list PURPOSE]" >&2
    exit 2
    ;;
esac

missing=""
for p in $PKGS; do
    case " $missing " in *" $p "*) continue ;; esac
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps ($purpose): installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages:$missing; run as root or install sudo" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postgresql is for the tests and the bench, which make throwaway clusters
# of their own (tests/system/pg_lib.py): Debian's package would otherwise
# create a cluster 15/main that nothing here uses.
case " $missing " in
*" postgresql "*)
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
        $SUDO tee /etc/postgresql-common/createcluster.d/isthmus.conf >/dev/null
    ;;
esac
# No service starts while we install (exit 101: "action forbidden").
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# A fresh machine has no package lists yet; refresh them once if the first
# install attempt cannot find a package.
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
# The services of what we just installed stay off at boot too.
for p in $missing; do
    for unit in $(dpkg -L "$p" 2>/dev/null |
        sed -n 's#^/lib/systemd/system/\([^/@]*\.service\)$#\1#p'); do
        if command -v systemctl >/dev/null 2>&1; then
            $SUDO systemctl disable --quiet "$unit" 2>/dev/null || true
        fi
        echo "deps: $p's $unit is installed but not enabled" >&2
    done
    for init in $(dpkg -L "$p" 2>/dev/null | sed -n 's#^/etc/init\.d/##p'); do
        $SUDO update-rc.d "$init" disable >/dev/null 2>&1 || true
    done
done
