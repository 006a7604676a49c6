#!/bin/sh
# `make deb`: builds build/isthmus_VERSION_ARCH.deb from debian/ with
# dpkg-buildpackage, in a copy of the tree under build/deb/ so the tree
# itself gets no debian/isthmus/, obj-*/ or debian/files. The copy is the
# working tree as git sees it (tracked files and new ones not ignored),
# so uncommitted changes are packaged too (outside git: all but build/).
# Then lintian on the .deb.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build
WORK=$OUT/deb

missing=""
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "deb: missing:$missing (apt-get install dpkg-dev debhelper lintian)" >&2
    exit 2
fi

rm -rf "$WORK"
mkdir -p "$WORK/isthmus"
cd "$TOP"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        tar --null -T - -cf - | tar -xf - -C "$WORK/isthmus"
else
    # Not a git checkout (an unpacked tarball): all of it but build/.
    tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$WORK/isthmus"
fi

# The build dependencies debian/control names, checked before compiling.
cd "$WORK/isthmus"
dpkg-checkbuilddeps

dpkg-buildpackage -us -uc -b

rm -f "$OUT"/isthmus_*.deb
mv "$WORK"/isthmus_*.deb "$OUT"/
deb=$(ls "$OUT"/isthmus_*.deb)
echo "deb: $deb"

# Errors and warnings fail the target; overrides, each with its reason,
# are in debian/isthmus.lintian-overrides.
lintian --fail-on error,warning --display-info "$deb"
echo "deb: lintian clean"
