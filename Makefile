# Thin wrapper around Meson. `make` builds the release binary, `make check`
# builds with ASan/UBSan and -Werror and runs every test, `make demo` runs the
# main job.
BUILD   ?= build
RELEASE := $(BUILD)/release
CHECK   := $(BUILD)/check
FUZZ    := $(BUILD)/fuzz
# `make fuzz`: seconds per harness (tests/fuzz, docs/development.md).
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-check check fuzz demo bench clean install deb package-test

all: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE)

$(RELEASE)/build.ninja:
	meson setup $(RELEASE) --buildtype=release -Doptimization=2 -Db_lto=false

$(CHECK)/build.ninja:
	meson setup $(CHECK) --buildtype=debug --werror -Dunit_tests=enabled \
	    -Db_sanitize=address,undefined -Db_lundef=false

# The libFuzzer harnesses: clang, its own build directory, so the gcc
# builds above are untouched.
$(FUZZ)/build.ninja:
	CC=clang meson setup $(FUZZ) -Dfuzz=true --buildtype=debugoptimized \
	    --werror -Db_sanitize=address,undefined -Db_lundef=false

# What each purpose installs, and why: scripts/deps.sh.
deps:
	@scripts/deps.sh build

deps-check:
	@scripts/deps.sh check

# The harnesses run briefly here (FUZZ_CHECK_SECONDS each, from their
# committed corpus); a harness that does not build counts as failed in
# the summary instead of stopping the run.
check: deps-check $(CHECK)/build.ninja $(FUZZ)/build.ninja
	ninja -C $(CHECK)
	-ninja -C $(FUZZ)
	FUZZ_BUILD=$(FUZZ) tests/run-all.sh $(CHECK)

# Each harness for FUZZ_SECONDS, one after another at nice 19 (one core).
fuzz: deps-check $(FUZZ)/build.ninja
	ninja -C $(FUZZ)
	tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS)

demo: deps all
	scripts/demo.sh $(RELEASE)/isthmus

# isthmus side by side with HAProxy, stunnel and a direct connection, on
# this machine; writes bench/results/latest.md (see bench/README.md). Then
# the state store's write rate on SQLite and PostgreSQL (storebench), and
# what readiness tests measure against what a link imposes, and one edge
# polling 1,000 device HTTPS APIs (collectors), and store and forward:
# readings queued with fsync against straight through, and replayed; and
# what slow senders make a store-and-forward edge hold.
bench: all
	@scripts/deps.sh bench
	/usr/bin/python3 bench/bench.py --bin $(RELEASE)/isthmus
	/usr/bin/python3 bench/storebench.py --bin $(RELEASE)/bench/storebench
	/usr/bin/python3 bench/readiness.py --bin $(RELEASE)/isthmus
	/usr/bin/python3 bench/collectbench.py --bin $(RELEASE)/isthmus
	/usr/bin/python3 bench/queuebench.py --bin $(RELEASE)/isthmus
	/usr/bin/python3 bench/slowsenders.py --bin $(RELEASE)/isthmus

install: all
	meson install -C $(RELEASE)

# The Debian package, build/isthmus_VERSION_ARCH.deb, built from debian/
# in a copy of the tree under build/deb/, then checked by lintian
# (docs/packaging.md).
deb:
	@scripts/deps.sh deb
	scripts/build-deb.sh

# Installs that package into a fresh Debian 12 root (debootstrap, cached in
# build/debootstrap-cache), runs it there, purges it and checks what is
# left. Root only; builds the package first if build/ has none.
package-test:
	@scripts/deps.sh deb
	@ls build/isthmus_*.deb >/dev/null 2>&1 || $(MAKE) deb
	scripts/package-test.sh

clean:
	rm -rf $(BUILD)
