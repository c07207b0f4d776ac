# vxlab — the two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# bench-max: the vnode counts tried in turn, the pnodes, more flags (`--no-true`: no `true` on every
# vnode, whose one SSH session per vnode takes longer than the rest at 20,000+). Set here, not with
# $(or ...), which splits its arguments at commas.
COUNTS ?= 20000,30000,39852
PNODES ?= 162
MAX_FLAGS ?= --no-true

.PHONY: setup demo test unit integration sanity lint molecule build bench bench-experiment bench-max bench-controller soak clean

setup:            ## install everything (Debian packages, pinned .venv, CLI); idempotent
	@bash scripts/setup.sh

demo: setup       ## the main job on the embedded one-machine testbed
	@bash scripts/demo.sh

test: setup       ## every test: unit, integration (root), ansible-test sanity, ansible-lint, molecule, build
	@bash scripts/test.sh

unit: setup
	@$(PY) -m pytest tests/unit -q

integration: setup
	@$(PY) -m pytest tests/integration -q

sanity: setup
	@bash scripts/sanity.sh

lint: setup       ## ansible-lint, profile production (.ansible-lint): playbooks, roles, molecule, plugin docs
	@ansible-lint

molecule: setup   ## both scenarios: default (3 pnodes) and bare (2 bare pnodes, prepared by the deploy)
	@cd $(CURDIR) && molecule test && molecule test -s bare

build: setup
	@bash scripts/build.sh

bench: setup      ## benchmarks; results go to bench/RESULTS.md
	@bash bench/run.sh

soak: setup       ## deploy/destroy the same platform 20 times; leaks and memory in bench/RESULTS.md
	@$(PY) bench/soak.py --cycles 20 --pnodes 3 --vnodes 20 --out bench/out/soak.json --results bench/RESULTS.md

bench-experiment: setup  ## the experiment on 8 pnodes x 128 vnodes (long); section in bench/RESULTS.md
	@$(PY) bench/bench_experiment.py && $(PY) bench/report.py

bench-max: setup  ## the largest platform this machine holds (20,000+ netns vnodes; long); section in bench/RESULTS.md
	@$(PY) bench/bench_max.py --counts $(COUNTS) --pnodes $(PNODES) $(MAX_FLAGS)

bench-controller: setup  ## 162 pnodes x 25 vnodes: deploy, re-run, controller CPU; section in bench/RESULTS.md
	@$(PY) bench/bench_controller.py --pnodes 162 --per 25

clean:
	rm -rf build dist tests/output .pytest_cache vxlab-emulation-*.tar.gz
