# pruning-lab: every target builds its own virtual environment from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Every package at the exact version and hash requirements.lock names, torch's CPU build
# 2.13.0+cpu included (uv finds it through its find-links or PyTorch's CPU index; an unpinned
# torch would pull the CUDA build and its GB of packages). `make lock` updates the lock file.
LOCK   := requirements.lock
PIP    := pip==26.3
UV     := uv==0.13.8
# where the lock's torch wheel is found: this machine's wheel directory, else PyTorch's CPU index
TORCH_WHEELS ?= $(if $(wildcard /opt/wheels/torch-*),/opt/wheels,https://download.pytorch.org/whl/cpu/torch/)

.PHONY: venv lock docs-tables test test-e2e test-portability test-slurm test-html test-notebook test-all notebook mutants docs reproduce reproduce-extended reproduce-paper1 replay severity onset-study search-study search-heldout mechanism-study morris-study sobol-study aggregate verify verify-replay bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(PIP) $(UV)
	# uv installs the lock (seconds where pip takes minutes) and compiles its bytecode: without it a
	# process that imports torch compiles its sources, wherever bytecode is not written (PYTHONDONTWRITEBYTECODE)
	$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode --require-hashes --no-deps \
	    --find-links $(TORCH_WHEELS) -r $(LOCK)
	# compat: the checkout itself on sys.path, where Hydra's plugin scan finds hydra_plugins/
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	$(VENV)/bin/uv pip check --python $(PY)
	touch $(STAMP)

## re-resolve requirements.lock from pyproject.toml's ranges (newest versions that fit), with
## hashes; uv runs from a venv of its own, so a lock that no longer fits pyproject.toml can be redone
lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet $(UV)
	echo "torch==2.13.0+cpu" | $(VENV)-lock/bin/uv pip compile pyproject.toml - --extra dev --extra cluster --extra notebook --extra dashboard \
	    --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	    --find-links $(TORCH_WHEELS) --custom-compile-command "make lock" -o $(LOCK)

## the fast suite on two pytest-xdist workers, the docs' strict build included; the end-to-end
## runs in real processes are make test-e2e, paper-scale runs and submitit's local cluster path are
## marked slow, and the tests that need a browser or a notebook kernel have targets of their own
test: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not e2e and not slow and not slurm and not portability and not browser and not notebook"

## sweeps, searches and single runs through the CLI in real processes with real workers: killed,
## signalled, run side by side, resumed (CI runs it after make test)
test-e2e: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "e2e and not slow and not slurm"

## the golden job under QEMU's user-mode emulator on an Intel and an AMD CPU model, with controls
## (as root: installs Debian's qemu-user if missing; about 5 minutes on 2 cores; docs/portability.md)
test-portability: $(STAMP)
	$(PY) -m pytest -q -m portability tests/test_portability.py

## the cluster path on a real single-node SLURM, set up from nothing (as root: installs
## Debian's slurmctld, slurmd, slurm-client and munge if missing; a few minutes), and the same
## launcher on submitit's local executor
test-slurm: $(STAMP)
	tmp=$$(mktemp -d /tmp/pruning-lab-slurm.XXXXXX) && PRUNING_LAB_TEST_SLURM=1 \
	  $(PY) -m pytest -q -m "slurm or slow" --basetemp=$$tmp tests/test_slurm.py tests/test_cluster.py && rm -rf $$tmp

## the HTML report rendered in a headless Chromium (as root: installs Debian's chromium if missing)
test-html: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)
	$(PY) -m pytest -q -m browser tests/test_report_html.py

## the example notebook executed from nothing in a temporary directory (its own store), with nbclient
test-notebook: $(STAMP)
	$(PY) -m pip install --quiet --no-build-isolation -e ".[notebook]" --config-settings editable_mode=compat
	$(PY) -m pytest -q -m notebook tests/test_notebook.py

## everything but the browser and notebook tests (make test-html, make test-notebook)
test-all: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not notebook"

## experiments/notebook.ipynb executed in place with its outputs (what is committed); it runs in
## experiments/ and stores its jobs in experiments/outputs/notebook/store, so a rerun reuses them
notebook: $(STAMP)
	$(PY) -m pip install --quiet --no-build-isolation -e ".[notebook]" --config-settings editable_mode=compat
	$(VENV)/bin/jupyter-execute --inplace experiments/notebook.ipynb

## mutation testing of the science modules (pyproject.toml [tool.mutmut]), from scratch; long, at
## the lowest priority. MUTANTS='pruning_lab.sim.pruning.*' checks only the mutants matching the globs.
mutants: $(STAMP)
	rm -rf mutants
	nice -n 19 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS); status=$$?; \
	$(PY) tools/mutation_score.py; exit $$status

## the documentation site (mkdocs.yml, docs/) into site/; strict: a broken link, a missing page or
## a missing anchor fails the build
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

## every result table and number of README.md, docs/studies.md and experiments/*/README.md (the
## blocks between <!-- table: NAME --> and <!-- end -->) recomputed from the per-seed CSVs committed
## beside them (tools/docs_tables.py; make test fails when one differs)
docs-tables: $(STAMP)
	$(PY) tools/docs_tables.py

## paper 2: 10 seeds x 3 treatments, full protocol, then its tables, figures and report
reproduce: $(STAMP)
	$(PY) -m pruning_lab.run experiment=paper2
	$(PY) -m pruning_lab.aggregate outputs/paper2/sweep --out outputs/paper2

## paper 2's protocol on 40 seeds (0-9 are paper 2's own jobs; 120 jobs, about 40 minutes on 2
## cores), its tables and report, and every per-seed value compared with
## experiments/paper2_extended/expected.csv (exits 1 on any difference)
reproduce-extended: $(STAMP)
	$(PY) -m pruning_lab.run experiment=paper2_extended
	$(PY) -m pruning_lab.aggregate outputs/paper2_extended/sweep --out outputs/paper2_extended
	$(PY) -m pruning_lab.verify --results outputs/paper2_extended/sweep --expected experiments/paper2_extended/expected.csv

## paper 1: seed 42 on data seed 0, no longitudinal course, its tables and report, and every value
## compared with experiments/paper1/expected.csv (exits 1 on any difference)
reproduce-paper1: $(STAMP)
	$(PY) -m pruning_lab.run experiment=paper1
	$(PY) -m pruning_lab.aggregate outputs/paper1/sweep --out outputs/paper1
	$(PY) -m pruning_lab.verify --results outputs/paper1/sweep --expected experiments/paper1/expected.csv

## paper 2 replayed: the published notebook's random draws in its order and its rounding
## (rng=notebook), 10 seeds x 3 treatments with the bits of torch's dense products (about 9
## minutes on 2 cores), then the report, whose replay verdict counts the printed values of
## Tables 1-4 ours equal
replay: $(STAMP)
	$(PY) -m pruning_lab.run experiment=replay_paper2
	$(PY) -m pruning_lab.aggregate outputs/replay/paper2/sweep --out outputs/replay/paper2 --population-sd

## the pruning cliff: sparsity 0.5..0.99 x 3 treatments x 10 seeds (experiments/severity/), every
## per-seed value compared with experiments/severity/per_seed.csv (exits 1 on any difference)
severity: $(STAMP)
	$(PY) -m pruning_lab.run experiment=severity
	$(PY) -m pruning_lab.aggregate outputs/severity/sweep --out outputs/severity
	$(PY) tools/per_seed.py outputs/severity/sweep experiments/severity/per_seed.csv --check

## onset of response: 5 treatments x 10 seeds, scored every epoch (experiments/onset/), every
## per-seed value compared with experiments/onset/per_seed.csv (exits 1 on any difference)
onset-study: $(STAMP)
	$(PY) -m pruning_lab.run experiment=onset
	$(PY) -m pruning_lab.aggregate outputs/onset/sweep --out outputs/onset
	$(PY) tools/per_seed.py outputs/onset/sweep experiments/onset/per_seed.csv --check

## less regrowth, the same resilience? a multi-objective regimen search (experiments/search/; 140 jobs,
## about 16 minutes on 2 cores)
search-study: $(STAMP)
	$(PY) -m pruning_lab.run experiment=search_regrowth
	$(PY) -m pruning_lab.aggregate outputs/search/regrowth

## the search's regimens on per-seed record, without the search: its chosen regimens (trials 19, 31,
## 32), the regimen as shipped and the control (fraction 0.5 with trial 19's course), each on the
## search's seeds 0-2 and the held-out seeds 100-104 (40 ketamine-like jobs, a few minutes), then
## every value compared with experiments/search/heldout_per_seed.csv (exits 1 on any difference)
HELDOUT := $(PY) -m pruning_lab.run -m treatment=ketamine longitudinal=none onset.every=0 seed=0,1,2,100,101,102,103,104
TRIAL19 := treatment.epochs=24 treatment.lr=0.0017789995294855167 treatment.init_std=0.05202725095919691
search-heldout: $(STAMP)
	$(HELDOUT) hydra.sweep.dir=outputs/search/heldout/shipped
	$(HELDOUT) treatment.fraction=0.05031082806889055 $(TRIAL19) hydra.sweep.dir=outputs/search/heldout/trial19
	$(HELDOUT) treatment.fraction=0.060283950251080645 treatment.epochs=30 treatment.lr=0.0015997510372559105 \
	    treatment.init_std=0.039923914261720976 hydra.sweep.dir=outputs/search/heldout/trial31
	$(HELDOUT) treatment.fraction=0.05057145491702787 treatment.epochs=23 treatment.lr=0.0017878554394605026 \
	    treatment.init_std=0.02773240722259731 hydra.sweep.dir=outputs/search/heldout/trial32
	$(HELDOUT) treatment.fraction=0.5 $(TRIAL19) hydra.sweep.dir=outputs/search/heldout/control
	$(PY) tools/per_seed.py outputs/search/heldout experiments/search/heldout_per_seed.csv --check

## regrowth or consolidation? the ketamine-like arm against its controls, paired by seed: 6 arms x
## 20 seeds (1000-1019) with the 8-cycle course (experiments/mechanism/), the report's comparisons
## against the control, and every per-seed value compared with experiments/mechanism/per_seed.csv
mechanism-study: $(STAMP)
	$(PY) -m pruning_lab.run experiment=mechanism
	$(PY) -m pruning_lab.aggregate outputs/mechanism/sweep --out outputs/mechanism
	$(PY) tools/per_seed.py outputs/mechanism/sweep experiments/mechanism/per_seed.csv --check

## Morris screening of the three treatments over 6 knobs each (experiments/sensitivity/; 210 jobs,
## about 40 minutes on 2 cores)
morris-study: $(STAMP)
	$(PY) -m pruning_lab.run experiment=morris
	$(PY) -m pruning_lab.aggregate outputs/sensitivity/morris

## Sobol indices, sized for a cluster (6 144 jobs): SOBOL_ARGS='hydra/launcher=slurm ...'; on one
## machine, small: SOBOL_ARGS=hydra.sweeper.sensitivity.samples=4
sobol-study: $(STAMP)
	$(PY) -m pruning_lab.run experiment=sobol $(SOBOL_ARGS)
	$(PY) -m pruning_lab.aggregate outputs/sensitivity/sobol

## tables of any sweep or store: make aggregate DIR=outputs/multirun/...
aggregate: $(STAMP)
	$(PY) -m pruning_lab.aggregate $(DIR)

## paper 2 rerun from nothing (temporary store and sweep dir), every per-seed value compared with
## experiments/paper2/expected.csv; then its replay (make verify-replay); exits 1 on any difference
verify: $(STAMP)
	$(PY) -m pruning_lab.verify
	$(PY) -m pruning_lab.verify --replay

## the replay of paper 2 (make replay) rerun from nothing, every per-seed value compared with
## experiments/paper2/replay.csv
verify-replay: $(STAMP)
	$(PY) -m pruning_lab.verify --replay

## speed and memory figures: the FMA peak, each phase kind portable and native, the dense products
## against the peak, the paper-2 sweep's FLOP floor (BENCH_ARGS="--sweep-dir DIR" sets a finished
## sweep against it, --sweep runs one), aggregation and the launch path
bench: $(STAMP)
	$(PY) bench/bench.py $(BENCH_ARGS)
	$(PY) bench/aggregate_bench.py
	$(PY) bench/launch_bench.py $(LAUNCH_BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV)-lock *.egg-info .pytest_cache mutants site
