# Thin wrapper around Meson. `make` builds the release binary, `make check`
# builds with ASan/UBSan and -Werror and runs every test, `make demo` runs the
# main job.
BUILD   ?= build
RELEASE := $(BUILD)/release
CHECK   := $(BUILD)/check

.PHONY: all deps check demo bench clean install

all: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE)

$(RELEASE)/build.ninja:
	meson setup $(RELEASE) --buildtype=release -Doptimization=2 -Db_lto=false

$(CHECK)/build.ninja:
	meson setup $(CHECK) --buildtype=debug --werror \
	    -Db_sanitize=address,undefined -Db_lundef=false

deps:
	@scripts/deps.sh

check: deps $(CHECK)/build.ninja
	ninja -C $(CHECK)
	tests/run-all.sh $(CHECK)

demo: deps all
	scripts/demo.sh $(RELEASE)/isthmus

# isthmus side by side with HAProxy, stunnel and a direct connection, on
# this machine; writes bench/results/latest.md (see bench/README.md).
bench: all
	@scripts/deps.sh bench
	/usr/bin/python3 bench/bench.py --bin $(RELEASE)/isthmus

install: all
	meson install -C $(RELEASE)

clean:
	rm -rf $(BUILD)
