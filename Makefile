# Scheduled DynamoDB backups with retention: developer entry points.
#   make demo   run the whole thing locally against the moto emulator (no AWS account)
#   make test   everything CI checks: format, lints, unit, paging, moto, artifact and standalone tests
#   make check  the fast inner loop: format, lints and unit tests (no emulator)
#   make build  the Lambda deployment zips (target/lambda/backup-lambda-arm64.zip, -x86_64.zip)
#   make bench  the benchmarks against the tutorial's Python; rewrites BENCHMARKS.md (~30 min)
#   make setup  the Python tools in .venv (moto, cargo-zigbuild, zig), the arm64 Rust target
#   make dist   release installers that carry the function (dist/installer-<version>-<target>, SHA256SUMS)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
# Pinned Python tools: the AWS emulator, the glibc-2.34 cross linker and the IAM policy linter.
PIP_PINS := moto[server]==5.2.5 cargo-zigbuild==0.24.1 ziglang==0.15.2 parliament==1.6.4
VENV_STAMP := $(VENV)/.installed-$(shell echo '$(PIP_PINS)' | sha1sum | cut -c1-12)
# What only the benchmarks need: the Python runtime client the tutorial's function runs under.
BENCH_PINS := awslambdaric==4.2.2
BENCH_STAMP := $(VENV)/.bench-$(shell echo '$(BENCH_PINS)' | sha1sum | cut -c1-12)
# The function for Graviton, which `up` deploys by default (the tests run it under qemu-user),
# and for x86_64, one flag away (`--arch x86_64`). `installer build` writes these paths.
ZIP_ARM64 := target/lambda/backup-lambda-arm64.zip
ZIP_X86_64 := target/lambda/backup-lambda-x86_64.zip
CARGO := cargo
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' crates/installer/Cargo.toml | head -n 1)
DIST_TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
DIST_GLIBC := 2.28
HOST_TARGET := $(shell rustc -vV | sed -n "s/^host: //p")
# The tests, the installer `build` and `demo` run, and the one the standalone test ships are one
# build: this machine's target as `make dist` ships it (the zig linker, glibc 2.28 at most), in
# the debug profile. Every integration test thus runs the installer as it ships, but for the
# release profile's optimisation and stripped symbols.
TEST_TARGET := $(HOST_TARGET).$(DIST_GLIBC)
INSTALLER := target/$(HOST_TARGET)/debug/installer

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup installer build zip-arm64 zip-x86_64 check lint test demo bench dist dist-host standalone reference clean

help:
	@sed -n '2,9p' Makefile | sed 's/^# *//'

setup: $(VENV_STAMP)
	rustup target add aarch64-unknown-linux-gnu >/dev/null

$(VENV_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(foreach p,$(PIP_PINS),'$(p)')
	rm -f $(VENV)/.installed-* $(VENV)/.bench-*
	touch $@

$(BENCH_STAMP): $(VENV_STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(foreach p,$(BENCH_PINS),'$(p)')
	rm -f $(VENV)/.bench-*
	touch $@

# The installer is always built the way the tests build it (workspace features, dev
# dependencies included, TEST_TARGET), so that test, build and demo share one build of every
# crate.
installer: setup
	cargo-zigbuild test --locked --workspace --no-run --target $(TEST_TARGET)

# The two architectures' functions build at once, each with `installer build` in a target
# directory of its own (so the two cargos do not wait on one lock), as each ends in a fat-LTO
# link on one core. (One cargo run with both targets would not do: it resolves features for the
# two at once, so its builds are not the ones `installer build` asks for.)
build: installer
	$(MAKE) --no-print-directory -j2 zip-arm64 zip-x86_64

zip-arm64 zip-x86_64:
	CARGO_TARGET_DIR=target/$@ $(INSTALLER) build --arch $(@:zip-%=%)

# The fast inner loop: format, lints and the unit tests (no emulator, no zips).
check: lint
	$(CARGO) fmt --all --check
	$(CARGO) test --locked --workspace --lib --bins

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# The tests wait on the emulator far more than they compute: six at once, not one per core,
# halve the phase on 2 cores.
TEST_THREADS := 6

# Each phase prints its duration (`phase NAME: N s`, scripts/timed).
test: setup
	scripts/timed fmt $(CARGO) fmt --all --check
	scripts/timed clippy $(MAKE) --no-print-directory lint
	scripts/timed test-build $(MAKE) --no-print-directory installer
	scripts/timed zips $(MAKE) --no-print-directory standalone
	INSTALLER_DIST=$(CURDIR)/$(STANDALONE) BACKUP_LAMBDA_ZIP_ARM64=$(CURDIR)/$(ZIP_ARM64) \
	  BACKUP_LAMBDA_ZIP_X86_64=$(CURDIR)/$(ZIP_X86_64) \
	  scripts/timed tests scripts/with-moto \
	  cargo-zigbuild test --locked --workspace --target $(TEST_TARGET) -- --test-threads $(TEST_THREADS)

# The command reference and man pages in docs/reference, from the command line's own types (a
# test fails when the committed copy is stale).
reference: installer
	$(INSTALLER) -q reference --out docs/reference

demo: build
	INSTALLER=$(INSTALLER) scripts/with-moto scripts/demo

bench: $(BENCH_STAMP)
	bench/run

# Release installers for every target in DIST_TARGETS, linked against glibc DIST_GLIBC at most
# (cargo zigbuild), each carrying the function's zips: arm64, which `up` deploys by default,
# and x86_64.
# The release installers build in a target directory of their own: a release build shares no
# compiled crate with the others, and a cargo running elsewhere in target/ does not block it.
DIST_BUILD := target/dist
RELEASE_INSTALLER = $(DIST_BUILD)/$(1)/release/installer

dist: setup
	$(foreach t,$(DIST_TARGETS),rustup target add $(t) >/dev/null &&) true
	$(foreach t,$(DIST_TARGETS),CARGO_TARGET_DIR=$(DIST_BUILD) $(CARGO) zigbuild --locked --release -p installer --target $(t).$(DIST_GLIBC) &&) true
	$(call RELEASE_INSTALLER,$(HOST_TARGET)) build --arch arm64
	$(call RELEASE_INSTALLER,$(HOST_TARGET)) build --arch x86_64
	mkdir -p dist
	$(foreach t,$(DIST_TARGETS),$(call RELEASE_INSTALLER,$(HOST_TARGET)) -q bundle --zip $(ZIP_ARM64) --zip $(ZIP_X86_64) --out dist/installer-$(VERSION)-$(t) --installer $(call RELEASE_INSTALLER,$(t)) &&) true
	mkdir -p dist/man && cp docs/reference/man/*.1 dist/man/
	cd dist && sha256sum installer-$(VERSION)-* > SHA256SUMS && cat SHA256SUMS

# This machine's release installer exactly as `make dist` ships it, bundled by the test build.
HOST_DIST := dist/installer-$(VERSION)-$(HOST_TARGET)

dist-host: build
	CARGO_TARGET_DIR=$(DIST_BUILD) $(CARGO) zigbuild --locked --release -p installer --target $(HOST_TARGET).$(DIST_GLIBC)
	mkdir -p dist
	$(INSTALLER) -q bundle --zip $(ZIP_ARM64) --zip $(ZIP_X86_64) --out $(HOST_DIST) --installer $(call RELEASE_INSTALLER,$(HOST_TARGET))

# What the standalone test copies out of the checkout and runs: the test build's installer
# (TEST_TARGET: as `make dist` ships it, in the debug profile) carrying both zips. The release
# profile adds only optimisation and stripped symbols, which the test does not look at, and would
# add eight minutes on 2 cores; `INSTALLER_DIST=$(HOST_DIST)` after `make dist-host` runs the test
# on the release binary itself.
STANDALONE := target/standalone/installer-$(VERSION)-$(HOST_TARGET)

standalone: build
	mkdir -p $(dir $(STANDALONE))
	$(INSTALLER) -q bundle --zip $(ZIP_ARM64) --zip $(ZIP_X86_64) --out $(STANDALONE) --installer $(INSTALLER)

clean:
	rm -rf target/lambda $(VENV)
