# make demo: set up and open the Gradio demo; make test: set up and run the whole suite.
export GRADIO_ANALYTICS_ENABLED := False
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export HF_HUB_OFFLINE := 1
PY := .venv/bin/python

.PHONY: setup demo explorer test benchmarks study
setup:
	bash scripts/setup.sh

demo: setup
	$(PY) demo_app.py

explorer: setup
	.venv/bin/streamlit run explorer/Home.py --server.address 127.0.0.1 --server.headless true

test: setup
	$(PY) -m pytest -q tests

# every benchmark table of the default generator, keeping the other weights' rows (hours on 2 cores)
benchmarks: setup
	$(PY) -m benchmarks.sample_quality --checkpoint assets/fashion --append
	$(PY) -m benchmarks.sampler_steps --checkpoint assets/fashion --steps 10 20 40 --samples 1000 --append
	bash scripts/reship.sh after embedding applications embedding-descent quality-trend speed demo-load where-lost clouds readme

# the shipped emb(x) study (assets/study); each image's results are cached in assets/study/cache
study: setup
	$(PY) -m core.study examples --out assets/study --cloud-size 8 --ood-test-images 100 --ood-photos 100
	$(PY) scripts/update_readme.py
