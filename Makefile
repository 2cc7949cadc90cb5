# bmru-analog: weights -> circuit -> sky130 layout -> DRC/LVS/PEX -> post-layout simulation.
# Two commands on a fresh machine: `make demo` and `make test` (both run `make setup` first).

PYTHON       := .venv/bin/python
TRAIN_PYTHON := .venv-train/bin/python
WEIGHTS      ?= examples/kws_yes_d4.npz
INPUTS       ?= examples/kws_yes_test.npz
N            ?= 50
OUT          ?= build/$(basename $(notdir $(WEIGHTS)))
ARRAY_FLAGS  ?=

.PHONY: help setup test test-fast demo infer array drc lvs pex presim postlayout-sim corners mc report clean golden

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

setup: .venv/.setup-stamp .venv-train/.setup-stamp  ## create .venv (3.12) and .venv-train (3.11 + torch), install system packages

.venv/.setup-stamp .venv-train/.setup-stamp: pyproject.toml constraints.txt constraints-train.txt scripts/setup.sh
	bash scripts/setup.sh

test: setup  ## run the whole test suite (both environments)
	$(PYTHON) -m pytest -q
	$(TRAIN_PYTHON) -m pytest -q tests/bmru/train

test-fast: setup  ## the suite without tests marked slow
	$(PYTHON) -m pytest -q -m "not slow"

golden: setup  ## redraw the golden layouts (tests/golden/) after an intended geometry change; commit the diff
	$(PYTHON) -m tests.golden

infer: setup  ## software model on INPUTS: decisions and accuracy
	$(PYTHON) -m bmru.infer $(WEIGHTS) $(INPUTS) -q --json $(OUT)/software.json

array: setup  ## mapping, schematic and layout of WEIGHTS (ARRAY_FLAGS=--crossbars for crossbars): spec.json, schematic.spice, layout.gds, layout.png
	$(PYTHON) -m generators.array $(WEIGHTS) -o $(OUT) $(ARRAY_FLAGS)

$(OUT)/layout.gds $(OUT)/schematic.spice &: $(WEIGHTS)
	$(PYTHON) -m generators.array $(WEIGHTS) -o $(OUT) $(ARRAY_FLAGS)

drc: setup $(OUT)/layout.gds  ## DRC of the layout: drc.lyrdb, drc.json
	$(PYTHON) -m extract.drc $(OUT)/layout.gds -o $(OUT)

lvs: setup $(OUT)/layout.gds  ## layout versus schematic.spice: lvs.lvsdb, lvs.json, lvs.txt
	$(PYTHON) -m extract.lvs $(OUT)/layout.gds $(OUT)/schematic.spice -o $(OUT)

# File rules: an extraction is redone whenever the layout or schematic it came from changed
# (sim.postlayout also refuses a pex.spice whose recorded digests do not match OUT).
$(OUT)/lvs.lvsdb: $(OUT)/layout.gds $(OUT)/schematic.spice
	$(PYTHON) -m extract.lvs $(OUT)/layout.gds $(OUT)/schematic.spice -o $(OUT)

$(OUT)/pex.spice: $(OUT)/lvs.lvsdb
	$(PYTHON) -m extract.pex $(OUT)/lvs.lvsdb -o $(OUT)

pex: setup  ## parasitic extraction (KPEX 2.5D) from lvs.lvsdb: pex.spice, pex.json
	@$(MAKE) --no-print-directory $(OUT)/lvs.lvsdb WEIGHTS=$(WEIGHTS) OUT=$(OUT)
	$(PYTHON) -m extract.pex $(OUT)/lvs.lvsdb -o $(OUT)

presim: setup  ## ngspice on schematic.spice versus the software model (N utterances of INPUTS): presim.json
	$(PYTHON) -m sim.presim $(WEIGHTS) --inputs $(INPUTS) -n $(N) -o $(OUT)

postlayout-sim: setup  ## ngspice on pex.spice (re-extracted if the layout changed) versus the software model: postlayout.json, report.md, plots
	@$(MAKE) --no-print-directory $(OUT)/pex.spice WEIGHTS=$(WEIGHTS) OUT=$(OUT)
	$(PYTHON) -m sim.postlayout $(WEIGHTS) --inputs $(INPUTS) -n $(N) -o $(OUT)
	$(PYTHON) -m sim.report $(OUT)

CORNERS_N    ?= $(if $(filter command line,$(origin N)),$(N),10)

corners: setup  ## the 45-point PVT grid (tt/ff/ss/sf/fs x -40/27/85 C x 1.62/1.8/1.98 V) on N utterances (Dask): corners.json, corners.png
	$(PYTHON) -m sim.corners $(WEIGHTS) --inputs $(INPUTS) -n $(CORNERS_N) -o $(OUT)

SAMPLES      ?= 20
SEED         ?= 1
MC_N         ?= $(if $(filter command line,$(origin N)),$(N),10)

mc: setup  ## mismatch Monte Carlo: SAMPLES x N utterances in ngspice (Dask) with the software prediction: mc.json, plots
	$(PYTHON) -m sim.montecarlo $(WEIGHTS) --inputs $(INPUTS) -n $(MC_N) --samples $(SAMPLES) --seed $(SEED) -o $(OUT)

report: setup  ## report.md with figures from whatever the flow left in OUT
	$(PYTHON) -m sim.report $(OUT) --summary

DEMO_N       ?= 10

demo: setup  ## the whole flow on the shipped example (DEMO_N utterances), timed, ending in OUT/report.md
	bash scripts/demo.sh $(WEIGHTS) $(INPUTS) $(DEMO_N) $(OUT)

clean:  ## remove build outputs (keeps the environments)
	rm -rf build
