# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: install demo test bench train-bundled evaluate-bundled paper-table system-deps mutate clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip > $(VENV)/pip.log 2>&1 || (tail -n 40 $(VENV)/pip.log; exit 1)
	$(PY) -m pip install --quiet -r requirements-dev.txt >> $(VENV)/pip.log 2>&1 || (tail -n 40 $(VENV)/pip.log; exit 1)
	# the project itself, editable: its packages import from any folder, and the `streamdit` command
	$(PY) -m pip install --quiet --no-deps --editable . >> $(VENV)/pip.log 2>&1 || (tail -n 40 $(VENV)/pip.log; exit 1)
	touch $(STAMP)

install: $(STAMP)

## system packages: ffmpeg (Gradio's video streaming runs ffprobe), chromium (browser tests)
system-deps:
	bash scripts/install-system-deps.sh

demo: $(STAMP) system-deps
	$(PY) app.py $(ARGS)

test: $(STAMP) system-deps
	$(PY) -m pytest $(ARGS)

bench: $(STAMP)
	$(PY) -m streamdit bench $(ARGS)

## retrains the bundled autoencoder, teacher, single-scheme ablation and student (CPU: hours)
train-bundled: $(STAMP)
	PY=$(PY) bash scripts/train_bundled.sh

## samples and scores the bundled models (adherence, flicker, seams) and benchmarks them
evaluate-bundled: $(STAMP)
	PY=$(PY) bash scripts/evaluate_bundled.sh

## the paper-style evaluation of the bundled models: results/paper_table.md, CSVs, plots, results/study/
## (CPU: ARGS="--quick", minutes; the default full setting is meant for a GPU)
paper-table: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m eval paper $(ARGS)

## a small mutation run: one-line bugs planted one at a time in a copy of the repository (schedule, sampler,
## pipeline, distillation, DiT, loading, trainer, autoencoder motion head, stream batch, demo live route and
## waiting line, eval metrics, preprocessing and downloads, human_eval stats, store and server); prints the
## share the tests catch (CPU: ~20 minutes; ARGS="--only schedule" for a part, ARGS="--show NAME" for one
## mutant's test output)
mutate: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) scripts/mutate.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
