# Scheduled DynamoDB backups with retention: developer entry points.
#   make demo   run the whole thing locally against the moto emulator (no AWS account)
#   make test   everything CI checks: format, lints, unit, paging, moto and artifact tests
#   make build  the Lambda deployment zip (target/lambda/backup-lambda.zip)
#   make setup  the Python tools in .venv (moto, cargo-zigbuild, zig); idempotent

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
# Pinned Python tools: the AWS emulator and the glibc-2.34 cross linker.
PIP_PINS := moto[server]==5.2.5 cargo-zigbuild==0.24.1 ziglang==0.15.2
VENV_STAMP := $(VENV)/.installed-$(shell echo '$(PIP_PINS)' | sha1sum | cut -c1-12)
ZIP := target/lambda/backup-lambda.zip
CARGO := cargo

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup build test demo clean

help:
	@sed -n '2,6p' Makefile | sed 's/^# *//'

setup: $(VENV_STAMP)

$(VENV_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(foreach p,$(PIP_PINS),'$(p)')
	rm -f $(VENV)/.installed-*
	touch $@

build: setup
	$(CARGO) run --locked --quiet -p installer -- build --out $(ZIP)

test: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) run --locked --quiet -p installer -- build --out $(ZIP)
	BACKUP_LAMBDA_ZIP=$(CURDIR)/$(ZIP) scripts/with-moto $(CARGO) test --locked --workspace

demo:
	@echo "make demo arrives with 'installer up' (issue 4/5); for now: make build && make test" >&2
	@exit 1

clean:
	rm -rf target/lambda $(VENV)
