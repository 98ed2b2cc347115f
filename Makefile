# The course's commands. The two a newcomer needs are `make book` and `make test`;
# both create .venv, install the Python packages, and (as root) the Debian packages
# listed in binder/apt.txt (labs) and tests/apt.txt (tests and site build).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test test-uml fresh-check execute record bench sysdeps clean

$(STAMP): requirements.txt tests/requirements-instructor.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r tests/requirements-instructor.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

sysdeps:
	bash scripts/install_system_packages.sh binder/apt.txt tests/apt.txt

# Build the site from the committed notebook outputs (nothing is executed), warnings are errors.
# Its Labs part shows the learners' blank copies, written to student/ from labs/ first.
book: sysdeps $(STAMP)
	bash scripts/fetch_widget_js.sh
	$(PY) scripts/make_student_labs.py >/dev/null
	$(VENV)/bin/jupyter-book build . --warningiserror --keep-going --all --quiet
	@echo "The site is at $(CURDIR)/_build/html/index.html"

# The whole test suite: unit, property, lab worlds, notebooks (nbval: each notebook's one live run,
# recording its worlds as it goes), and the built site in Chromium. Prints why any test skipped and
# the 15 slowest items. Two workers, each taking whole files (a notebook's cells share one kernel):
# the suite mostly waits on the kernel (timeouts, ARP, daemons), so two halve its time on two cores.
test: book
	$(PY) -m pytest -p no:cacheprovider -rfEs --durations=15 -n 2 --dist loadfile \
		tests --nbval book labs --nbval-sanitize-with tests/nbval_sanitize.cfg

# nbgrader's autograde of every lab, the solutions and a blank copy each (`make test` grades
# lab01 and lab05, one of each kind of world: all five take minutes). Run as root.
.PHONY: test-nbgrader
test-nbgrader: $(STAMP)
	NETLAB_GRADE_ALL=1 $(PY) -m pytest -p no:cacheprovider -rfEs tests/test_nbgrader.py

# Every notebook live in User-mode Linux, as on Binder (tests/test_world_uml.py's sandbox; `make test`
# runs a chapter and a lab of each world kind there), but chapter 9 and lab 9, whose guest kernel
# cannot start inside UML: about 8 minutes on 2 cores.
test-uml: sysdeps $(STAMP)
	NETLAB_TEST_UML_ALL=1 $(PY) -m pytest -p no:cacheprovider -rfEs tests/test_world_uml.py -k notebooks_run_live

# What CI does: a fresh clone of HEAD, `make book` and `make test` there, each one's wall time.
fresh-check:
	bash scripts/fresh_clone_check.sh

# Re-run every notebook on this machine's kernel and save outputs and widget state.
execute: sysdeps $(STAMP)
	$(PY) scripts/execute_notebooks.py

# Same, and write the lab transcripts replayed where namespaces are unavailable.
record: sysdeps $(STAMP)
	NETLAB_RECORD=1 $(PY) scripts/execute_notebooks.py

bench: sysdeps $(STAMP)
	$(PY) benchmarks/bench_world.py

clean:
	rm -rf _build student book/_static/embed-amd.js book/_static/require.js book/_static/.widget-js-version \
		book/_static/*.woff* book/_static/*.ttf book/_static/*.eot book/_static/????????????????????.svg
