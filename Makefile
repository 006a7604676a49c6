# Thin wrapper around Meson. `make` builds the release binary, `make check`
# builds with ASan/UBSan and -Werror and runs every test, `make demo` runs the
# main job.
BUILD   ?= build
RELEASE := $(BUILD)/release
CHECK   := $(BUILD)/check

.PHONY: all deps check demo clean install

all: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE)

$(RELEASE)/build.ninja:
	meson setup $(RELEASE) --buildtype=release -Db_lto=false

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

install: all
	meson install -C $(RELEASE)

clean:
	rm -rf $(BUILD)
