"""Gradio demo: `gradio demo_app.py` (reload mode) or `python demo_app.py`.

A thin UI over core/: the shipped generators are loaded once at module scope and every
handler is a plain function with an `api_name`.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from core.checkpoint import load_generator  # noqa: E402
from core.images import make_grid  # noqa: E402
from core.seeds import parse_seed_list, seeded_noise  # noqa: E402

ASSETS = Path(__file__).resolve().parent / "assets"
GENERATORS = {name: load_generator(ASSETS / name) for name in ("fashion", "digits") if (ASSETS / name / "config.json").is_file()}
MAX_IMAGES = 256


@torch.no_grad()
def generate(model_name: str, seed_text: str, steps: int):
    """Seed numbers -> a grid of generated images."""
    if model_name not in GENERATORS:
        raise gr.Error(f"unknown generator {model_name!r}; choose one of {sorted(GENERATORS)}")
    try:
        seeds = parse_seed_list(seed_text)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    if len(seeds) > MAX_IMAGES:
        raise gr.Error(f"{len(seeds)} seeds asked; at most {MAX_IMAGES} at a time")
    generator = GENERATORS[model_name]
    images = generator.generate(seeded_noise(seeds, generator.image_shape), steps=int(steps))
    scale = max(1, 224 // generator.config.image_size)
    return make_grid(images, scale=scale)


with gr.Blocks(title="Image embedding for DDIM diffusion models") as demo:
    gr.Markdown(
        "# Embedding images in DDIM diffusion models\n"
        "A deterministic DDIM generator G maps a seed z (a noise image) to an image G(z). "
        "This demo runs the project's own small generators on the CPU."
    )
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column():
                model_choice = gr.Dropdown(sorted(GENERATORS), value="fashion" if "fashion" in GENERATORS else None, label="generator")
                seed_box = gr.Textbox("0-63", label="seeds (e.g. 0-63,100)")
                steps_slider = gr.Slider(1, 50, value=10, step=1, label="DDIM steps")
                generate_button = gr.Button("Generate", variant="primary")
            grid_image = gr.Image(label="generated images", type="pil")
        generate_button.click(generate, [model_choice, seed_box, steps_slider], grid_image, api_name="generate")

demo.queue(default_concurrency_limit=2, max_size=64)

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", max_file_size="10mb")
