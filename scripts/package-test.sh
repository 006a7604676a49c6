#!/bin/sh
# `make package-test`: installs build/isthmus_*.deb into a fresh Debian 12
# root, as an admin would, and purges it again.
#
#   1. a minbase bookworm root from debootstrap, cached as a tarball in
#      build/debootstrap-cache/ (with its apt lists, refreshed each run, and
#      the .debs apt downloaded, so a second run fetches almost nothing);
#   2. `apt-get install ./isthmus_*.deb`: apt resolves the dependencies
#      from the mirror, the maintainer scripts run;
#   3. inside the root: --version, the isthmus user and its directories,
#      the man pages, the units installed but not enabled, then the
#      examples made as their comments say (cloud.conf's PKI commands, each
#      FILL IN pin) in /etc/isthmus, and `--check` on all three;
#   4. `dpkg --purge isthmus`: no file `dpkg -L` listed is left, nor
#      /var/lib/isthmus or /var/cache/isthmus, nor any path naming isthmus
#      but the admin's configs in /etc/isthmus, which stay.
#
# Needs root (debootstrap, chroot, mount). /proc is mounted in the root
# for apt and dpkg, and unmounted on every exit, failures included.
# MIRROR overrides the Debian mirror, PACKAGE_TEST_CACHE the cache directory.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build
CACHE=${PACKAGE_TEST_CACHE:-$OUT/debootstrap-cache}
SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
TARBALL=$CACHE/$SUITE-minbase.tar.gz
WORK=$OUT/package-test
ROOT=$WORK/root

say() { echo "package-test: $*"; }
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 ))s"; }

if [ "$(id -u)" -ne 0 ]; then
    say "needs root (debootstrap, chroot, mount)" >&2
    exit 2
fi
for tool in debootstrap chroot mount; do
    command -v "$tool" >/dev/null 2>&1 || {
        say "missing $tool (apt-get install debootstrap)" >&2; exit 2; }
done
set -- "$OUT"/isthmus_*.deb
if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
    say "want exactly one build/isthmus_*.deb (make deb)" >&2
    exit 2
fi
DEB=$1

mounted() { grep -q " $1 " /proc/self/mounts; }
cleanup() {
    rc=$?
    trap - EXIT INT TERM HUP
    for m in "$ROOT/proc"; do
        if mounted "$m"; then
            umount "$m" || umount -l "$m" || true
        fi
    done
    # Never rm -rf a tree something is still mounted in.
    if grep -q " $ROOT/" /proc/self/mounts; then
        say "something is still mounted under $ROOT; left in place" >&2
        rc=1
    else
        rm -rf "$WORK"
    fi
    if [ "$rc" -eq 0 ]; then
        say "PASS ($(elapsed))"
    else
        say "FAIL ($(elapsed))" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A previous run killed hard may have left its root behind.
if [ -d "$WORK" ]; then
    if mounted "$ROOT/proc"; then umount "$ROOT/proc"; fi
    rm -rf "$WORK"
fi
mkdir -p "$ROOT" "$CACHE/archives"

# 1. The root.
if [ -f "$TARBALL" ]; then
    say "root from the cache $TARBALL"
    tar -xpzf "$TARBALL" -C "$ROOT"
else
    say "debootstrap $SUITE (minbase) from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR"
    chroot "$ROOT" apt-get update -q
    chroot "$ROOT" apt-get clean
    tar -cpzf "$TARBALL.tmp" -C "$ROOT" .
    mv "$TARBALL.tmp" "$TARBALL"
fi
say "root ready ($(elapsed))"

mount -t proc proc "$ROOT/proc"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# No service starts in this root, whatever a package says.
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
# The .debs of earlier runs: apt checks them against its lists and
# downloads only what is missing or changed.
find "$CACHE/archives" -name '*.deb' -exec cp -p {} "$ROOT/var/cache/apt/archives/" \;

# 2. The install, dependencies from the mirror.
cp "$DEB" "$ROOT/tmp/"
debname=$(basename "$DEB")
chroot "$ROOT" apt-get update -q
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q "/tmp/$debname"
find "$ROOT/var/cache/apt/archives" -maxdepth 1 -name '*.deb' \
    -exec cp -p {} "$CACHE/archives/" \;
chroot "$ROOT" apt-get clean
rm -f "$ROOT/tmp/$debname"
say "installed ($(elapsed))"

# The man pages meson builds (man/meson.build's list).
pages=$(sed -n "s/^ *'\(isthmus[^']*\.[0-9]\)',\{0,1\}$/\1/p" "$TOP/man/meson.build")
[ -n "$pages" ] || { say "no man pages found in man/meson.build" >&2; exit 1; }

# 3. and 4. run inside the root.
cat > "$ROOT/tmp/inside.sh" <<'INSIDE'
#!/bin/sh
set -eu
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
ok() { echo "package-test: ok: $*"; }
pages=$1

isthmus --version || fail "isthmus --version"
ok "isthmus --version"

id isthmus || fail "no user isthmus"
[ "$(id -gn isthmus)" = isthmus ] || fail "isthmus's group is not isthmus"
home=$(getent passwd isthmus | cut -d: -f6)
shell=$(getent passwd isthmus | cut -d: -f7)
[ "$home" = /var/lib/isthmus ] || fail "isthmus's home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "isthmus's shell is $shell"
uid=$(id -u isthmus)
[ "$uid" -lt 1000 ] || fail "isthmus is not a system user (uid $uid)"
ok "user and group isthmus (uid $uid, home $home, shell $shell)"

perms() { stat -c '%U:%G %a' "$1"; }
[ "$(perms /etc/isthmus)" = "root:isthmus 750" ] ||
    fail "/etc/isthmus is $(perms /etc/isthmus)"
for d in /var/lib/isthmus /var/cache/isthmus; do
    [ "$(perms $d)" = "isthmus:isthmus 750" ] || fail "$d is $(perms $d)"
done
ok "/etc/isthmus root:isthmus 0750, /var/lib and /var/cache isthmus 0750"

for p in $pages; do
    f=/usr/share/man/man${p##*.}/$p.gz
    [ -s "$f" ] || fail "man page $f missing"
    zcat "$f" | grep -q '^\.TH' || fail "$f is not a man page"
done
ok "man pages: $(echo $pages)"

units=$(dpkg -L isthmus | grep '^/lib/systemd/system/.*\.service$' || true)
for u in $units; do
    [ -f "$u" ] || fail "$u missing"
    n=$(basename "$u")
    if ls /etc/systemd/system/*.wants/"$n" >/dev/null 2>&1; then
        fail "$n is enabled"
    fi
done
ok "units installed, none enabled: $(echo ${units:-(none in this package)})"

# The examples, made as their comments say, where an admin puts them.
cd /etc/isthmus
cp /usr/share/doc/isthmus/examples/*.conf .
sed -n 's/^#[[:space:]]*\(isthmus pki .*\)$/\1/p' cloud.conf > /tmp/pki-cmds
[ "$(wc -l < /tmp/pki-cmds)" -ge 4 ] || fail "cloud.conf names too few PKI commands"
while IFS= read -r cmd; do
    sh -c "$cmd" > /dev/null || fail "$cmd"
done < /tmp/pki-cmds
for conf in cloud.conf edge-agw.conf edge-bgw.conf; do
    awk '
    /^# FILL IN: the spki_sha256 line of `isthmus pki show / {
        c = $0
        sub(/^# FILL IN: the spki_sha256 line of `/, "", c)
        sub(/`.*$/, "", c)
        pin = ""
        while ((c | getline l) > 0)
            if (l ~ /^spki_sha256:/) { pin = l; sub(/^spki_sha256:[ \t]*/, "", pin) }
        close(c)
        if (pin !~ /^sha256:[0-9a-f]+$/) { print c ": no pin" > "/dev/stderr"; bad = 1; exit 1 }
        print
        getline
        k = $0
        sub(/[ \t]*=.*$/, "", k)
        print k " = " pin
        n++
        next
    }
    { print }
    END { if (bad || !n) exit 1 }' "$conf" > "$conf.new" || fail "$conf: filling its pins"
    mv "$conf.new" "$conf"
done
isthmus cloud -c /etc/isthmus/cloud.conf --check || fail "cloud --check"
isthmus edge -c /etc/isthmus/edge-agw.conf --check || fail "edge-agw --check"
isthmus edge -c /etc/isthmus/edge-bgw.conf --check || fail "edge-bgw --check"
ok "the examples, made as their comments say, pass --check"

# What a gateway would leave: the isthmus user writes its state and cache.
runuser -u isthmus -- sh -c 'mkdir /var/lib/isthmus/cloud &&
    echo state > /var/lib/isthmus/cloud/x && echo c > /var/cache/isthmus/x' ||
    fail "isthmus cannot write its state and cache directories"
ok "isthmus writes /var/lib/isthmus and /var/cache/isthmus"

# 4. The purge.
dpkg -L isthmus > /tmp/files-before
dpkg --purge isthmus || fail "dpkg --purge"
st=$(dpkg-query -W -f='${db:Status-Status}' isthmus 2>/dev/null || true)
[ -z "$st" ] || [ "$st" = not-installed ] || fail "isthmus is $st after the purge"
left=""
while IFS= read -r p; do
    [ -e "$p" ] || [ -L "$p" ] || continue
    if [ -d "$p" ]; then
        # A directory shared with other packages, or holding their files
        # (or, merged /usr, a link like /lib to one).
        if dpkg -S "$p" > /dev/null 2>&1 || [ -n "$(ls -A "$p")" ]; then
            continue
        fi
    fi
    left="$left $p"
done < /tmp/files-before
[ -z "$left" ] || fail "left after the purge:$left"
for d in /var/lib/isthmus /var/cache/isthmus /run/isthmus; do
    [ ! -e "$d" ] || fail "$d is left after the purge"
done
stray=$(find / -xdev -name '*isthmus*' ! -path '/etc/isthmus' \
    ! -path '/etc/isthmus/*' ! -path /tmp/files-before 2>/dev/null || true)
[ -z "$stray" ] || fail "paths naming isthmus left: $stray"
for f in cloud.conf edge-agw.conf edge-bgw.conf pki/ca.crt; do
    [ -f "/etc/isthmus/$f" ] || fail "the admin's /etc/isthmus/$f is gone"
done
ok "purged: $(wc -l < /tmp/files-before) paths of the package gone, state and cache gone, the admin's configs in /etc/isthmus kept"
INSIDE
chroot "$ROOT" /bin/sh /tmp/inside.sh "$pages"
