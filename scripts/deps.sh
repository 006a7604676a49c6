#!/bin/sh
# Installs the Debian packages that building, testing and the demo need, and
# nothing when they are all present (so it is quiet and fast on every run).
# As root it uses apt-get directly, otherwise sudo.
set -eu

PKGS="build-essential pkg-config meson ninja-build
libssl-dev libevent-dev libnghttp2-dev libhttp-parser-dev libinih-dev
libsqlite3-dev libjansson-dev libpq-dev libcmocka-dev postgresql tinyproxy sslsplit nftables iproute2 faketime
libcairo2-dev libfontconfig-dev fonts-dejavu-core
openssl python3 python3-pytest python3-pytest-xdist python3-cryptography
python3-prometheus-client
chromium python3-pil python3-jsonschema
nginx-light haproxy python3-h2
clang libclang-rt-14-dev"
# `deps.sh bench`: also the peer tools and load generators of make bench.
if [ "${1:-}" = bench ]; then
    PKGS="$PKGS stunnel4 iperf3 wrk"
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages:$missing; run as root or install sudo" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postgresql is for the tests, which make throwaway clusters of their own
# (tests/system/pg_lib.py): Debian's package would otherwise create a
# cluster 15/main and start a server on port 5432 that nothing here uses.
# createcluster.d stops the first, a policy-rc.d that refuses every
# service start during this install the second (removed after, unless it
# was the machine's own).
case " $missing " in
*" postgresql "*)
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
        $SUDO tee /etc/postgresql-common/createcluster.d/isthmus.conf >/dev/null
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    ;;
esac
# A fresh machine has no package lists yet; refresh them once if the first
# install attempt cannot find a package.
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
