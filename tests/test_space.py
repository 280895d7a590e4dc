"""The Hugging Face Space folder: front matter, requirements, and a demo that loads from the copy alone."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from build_space import build_space, main  # noqa: E402


def test_space_folder_is_complete(tmp_path):
    space = build_space(tmp_path / "space")
    readme = (space / "README.md").read_text()
    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "demo_app.py"
    import gradio
    assert front["sdk_version"] == gradio.__version__  # the Space runs the Gradio version we test
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in requirements and not any(line.startswith(("pytest", "playwright", "streamlit")) for line in requirements)
    for needed in ("assets/fashion/model.safetensors", "assets/embedders/fashion-unet/model.safetensors",
                   "assets/fashion/directions.safetensors", "assets/classifier/model.safetensors", "core/embedding.py",
                   "assets/inversion-starts/fashion/model.safetensors"):
        assert (space / needed).is_file(), needed
    # only the default generators travel: the Space has a size limit and the demo loads no other
    assert sorted(path.name for path in (space / "assets").iterdir() if path.is_dir()) == [
        "classifier", "digits", "embedders", "examples", "fashion", "inversion-starts"]
    # The copy alone must load: run it from the Space folder, not from the repository.
    probe = ("import demo_app, core; from core.inversion_start import shipped_inversion_start; "
             "print(demo_app.__file__, core.__file__, sorted(demo_app.GENERATORS), "
             "demo_app.EMBEDDER is not None, demo_app.DIRECTIONS is not None, len(demo_app.EXAMPLES), "
             "shipped_inversion_start(demo_app.GENERATORS['fashion']) is not None)")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    output = subprocess.run([sys.executable, "-c", probe], cwd=space, env=env, capture_output=True, text=True, timeout=300)
    assert output.returncode == 0, output.stderr[-2000:]
    demo_file, core_file, *rest = output.stdout.split(" ", 2)
    assert demo_file.startswith(str(space)) and core_file.startswith(str(space))
    assert rest[0].strip() == "['digits', 'fashion'] True True 13 True"  # the learned x0 start travels and is found


def test_bad_targets_get_one_line_and_nothing_is_written(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    for target, words in ((tmp_path / "file.txt", "is an existing file"), (tmp_path / "full", "exists and is not empty")):
        assert main([str(target)]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and words in error and len(error.splitlines()) == 1
    assert (tmp_path / "file.txt").read_text() == "mine" and [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "full"]  # no staging folder left behind
