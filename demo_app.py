"""Gradio demo: `gradio demo_app.py` (reload mode) or `python demo_app.py`.

A thin UI over core/: the shipped generators (and embedders) are loaded once at module scope;
every handler is a plain function with an `api_name`.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.checkpoint import load_generator  # noqa: E402
from core.embedder import load_embedder  # noqa: E402
from core.embedding import EmbeddingInputError, embed  # noqa: E402
from core.image_io import ImageInputError, load_image_file  # noqa: E402
from core.images import make_grid, seed_to_display, to_pil  # noqa: E402
from core.interpolation import interpolate_seeds  # noqa: E402
from core.seed_files import SeedFileError, load_seed_file, save_seed_file  # noqa: E402
from core.seeds import parse_seed_list, seeded_noise  # noqa: E402

ASSETS = Path(__file__).resolve().parent / "assets"
GENERATORS = {name: load_generator(ASSETS / name) for name in ("fashion", "digits") if (ASSETS / name / "config.json").is_file()}
EMBEDDER_PATH = ASSETS / "embedders" / "fashion-unet"
EMBEDDER = load_embedder(EMBEDDER_PATH) if (EMBEDDER_PATH / "config.json").is_file() else None
EXAMPLES = sorted(str(p) for p in (ASSETS / "examples").glob("*.png"))
MAX_IMAGES = 256
DISPLAY_SIZE = 224
OUTPUTS = Path(tempfile.mkdtemp(prefix="ddim-embedding-demo-"))
EMBED_METHODS = {
    "network (instant)": "network",
    "fixed point (near-exact)": "fixed_point",
    "hybrid (network + descent)": "hybrid",
    "DDIM inversion (naive)": "ddim_inversion",
}


def _big(image: torch.Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] -> a PIL image enlarged with nearest-neighbour for display."""
    pil = to_pil(image)
    scale = max(1, DISPLAY_SIZE // pil.width)
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def _generator(name: str):
    if name not in GENERATORS:
        raise gr.Error(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[name]


def _read_image(path: str | None, generator) -> tuple[torch.Tensor, str]:
    if not path:
        raise gr.Error("Upload an image or pick an example first.")
    try:
        return load_image_file(path, generator.image_shape)
    except ImageInputError as error:
        raise gr.Error(str(error).replace(str(path), Path(path).name)) from None


def _embed_one(generator, image: torch.Tensor, method: str, progress=None):
    embedder = EMBEDDER if generator is GENERATORS.get("fashion") else None  # the shipped embedder fits this generator only
    if method == "network" and embedder is None:
        raise gr.Error("No embedding network is shipped for this generator: choose fixed point or hybrid.")
    report = (lambda done, total, message: progress((done, total), desc=message)) if progress is not None else None
    try:
        return embed(generator, image[None], method, embedder=embedder, progress=report)
    except EmbeddingInputError as error:
        raise gr.Error(str(error)) from None


@torch.no_grad()
def generate(model_name: str, seed_text: str, steps: int):
    """Seed numbers -> a grid of generated images."""
    generator = _generator(model_name)
    try:
        seeds = parse_seed_list(seed_text)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    if len(seeds) > MAX_IMAGES:
        raise gr.Error(f"{len(seeds)} seeds asked; at most {MAX_IMAGES} at a time")
    images = generator.generate(seeded_noise(seeds, generator.image_shape), steps=int(steps))
    return make_grid(images, scale=max(1, DISPLAY_SIZE // generator.config.image_size))


@torch.no_grad()
def generate_from_file(model_name: str, seed_file: str | None, steps: int):
    """An uploaded .npy/.safetensors seed file -> a grid of images."""
    generator = _generator(model_name)
    if not seed_file:
        raise gr.Error("Upload a seed file (.npy or .safetensors) first.")
    try:
        seeds = load_seed_file(seed_file, generator.image_shape)
    except SeedFileError as error:
        raise gr.Error(str(error).replace(str(seed_file), Path(seed_file).name)) from None
    if len(seeds) > MAX_IMAGES:
        raise gr.Error(f"the file holds {len(seeds)} seeds; at most {MAX_IMAGES} at a time")
    images = generator.generate(seeds, steps=int(steps))
    return make_grid(images, scale=max(1, DISPLAY_SIZE // generator.config.image_size))


def embed_image(image_path: str | None, model_name: str, method_label: str, progress=gr.Progress()):
    """Image -> (model input, seed, reconstruction, a report, the seed as a .npy file)."""
    generator = _generator(model_name)
    method = EMBED_METHODS.get(method_label)
    if method is None:
        raise gr.Error(f"unknown method {method_label!r}; choose one of {list(EMBED_METHODS)}")
    image, note = _read_image(image_path, generator)
    result = _embed_one(generator, image, method, progress)
    seed_path = OUTPUTS / f"seed_{abs(hash((image_path, model_name, method))) % 10**8}.npy"
    save_seed_file(seed_path, result.seeds)
    report = (f"**{result.method}** — PSNR **{result.psnr[0]:.2f} dB**, MSE {result.mse[0]:.2e}, "
              f"{result.nfe} network evaluations, {result.seconds:.2f} s. Input: {note}.")
    return _big(image), _big(seed_to_display(result.seeds[0])), _big(result.reconstructions[0]), report, str(seed_path)


def interpolate(first_path: str | None, second_path: str | None, frames: int, mode: str, progress=gr.Progress()):
    """Two images -> embedded -> a path of N frames: (strip image, animated GIF path)."""
    generator = _generator("fashion")
    frames = int(frames)
    if not 2 <= frames <= 32:
        raise gr.Error("frames must be between 2 and 32")
    images = [_read_image(path, generator)[0] for path in (first_path, second_path)]
    method = "network" if EMBEDDER is not None else "fixed_point"
    seeds = [_embed_one(generator, image, method, progress).seeds[0] for image in images]
    path = interpolate_seeds(seeds[0], seeds[1], frames, "spherical" if mode.startswith("spherical") else "linear")
    with torch.no_grad():
        frames_images = generator.generate(path)
    strip = make_grid(frames_images, columns=frames, scale=4)
    gif_path = OUTPUTS / f"interpolation_{abs(hash((first_path, second_path, frames, mode))) % 10**8}.gif"
    pictures = [_big(frame) for frame in frames_images]
    pictures[0].save(gif_path, save_all=True, append_images=pictures[1:] + pictures[::-1][1:-1], duration=120, loop=0)
    return strip, str(gif_path)


with gr.Blocks(title="Image embedding for DDIM diffusion models") as demo:
    gr.Markdown(
        "# Embedding images in DDIM diffusion models\n"
        "A deterministic DDIM generator G maps a seed z (a noise image) to an image G(z); embedding finds z for a given image. "
        "Everything runs on the CPU with the project's own small Fashion-MNIST and digits generators."
    )
    with gr.Tab("Embed"):
        with gr.Row():
            with gr.Column():
                embed_input = gr.Image(type="filepath", label="image (any size or colour)", sources=["upload", "clipboard"], height=260)
                embed_model = gr.Dropdown(sorted(GENERATORS), value="fashion", label="generator")
                embed_method = gr.Radio(list(EMBED_METHODS), value=list(EMBED_METHODS)[0], label="method")
                embed_button = gr.Button("Embed", variant="primary")
                gr.Examples(EXAMPLES, inputs=embed_input)
            with gr.Column():
                with gr.Row():
                    embed_original = gr.Image(label="model input", type="pil", format="png")
                    embed_seed = gr.Image(label="seed z", type="pil", format="png")
                    embed_reconstruction = gr.Image(label="G(z)", type="pil", format="png")
                embed_report = gr.Markdown()
                embed_file = gr.File(label="seed (.npy)")
        embed_button.click(embed_image, [embed_input, embed_model, embed_method],
                           [embed_original, embed_seed, embed_reconstruction, embed_report, embed_file], api_name="embed")
    with gr.Tab("Interpolate"):
        with gr.Row():
            first_image = gr.Image(type="filepath", label="first image", sources=["upload", "clipboard"])
            second_image = gr.Image(type="filepath", label="second image", sources=["upload", "clipboard"])
        with gr.Row():
            frames_slider = gr.Slider(2, 32, value=9, step=1, label="frames")
            mode_radio = gr.Radio(["spherical (slerp)", "linear"], value="spherical (slerp)", label="path")
            interpolate_button = gr.Button("Interpolate", variant="primary")
        gr.Examples([[EXAMPLES[i], EXAMPLES[j]] for i, j in ((3, 4), (5, 9)) if len(EXAMPLES) > 9], inputs=[first_image, second_image])
        strip_image = gr.Image(label="path", type="pil", format="png")
        gif_file = gr.Image(label="animation", type="filepath")
        interpolate_button.click(interpolate, [first_image, second_image, frames_slider, mode_radio], [strip_image, gif_file],
                                 api_name="interpolate")
    with gr.Tab("Generate"):
        with gr.Row():
            with gr.Column():
                model_choice = gr.Dropdown(sorted(GENERATORS), value="fashion" if "fashion" in GENERATORS else None, label="generator")
                seed_box = gr.Textbox("0-63", label="seeds (e.g. 0-63,100)")
                steps_slider = gr.Slider(1, 50, value=10, step=1, label="DDIM steps")
                generate_button = gr.Button("Generate", variant="primary")
                seed_upload = gr.File(label="or a seed file (.npy / .safetensors)", file_types=[".npy", ".safetensors"])
                file_button = gr.Button("Generate from the seed file")
            grid_image = gr.Image(label="generated images", type="pil", format="png")
        generate_button.click(generate, [model_choice, seed_box, steps_slider], grid_image, api_name="generate")
        file_button.click(generate_from_file, [model_choice, seed_upload, steps_slider], grid_image, api_name="generate_from_file")

demo.queue(default_concurrency_limit=2, max_size=64)

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", max_file_size="10mb")
