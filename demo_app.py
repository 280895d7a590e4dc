"""Gradio demo: `gradio demo_app.py` (reload mode) or `python demo_app.py`.

A thin UI over core/: the shipped generators (and embedders) are loaded once at module scope;
every handler is a plain function with an `api_name`.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.checkpoint import load_generator  # noqa: E402
from core.classifier import load_classifier  # noqa: E402
from core.data import FASHION_MNIST_CLASSES  # noqa: E402
from core.directions import load_directions  # noqa: E402
from core.embedder import load_embedder  # noqa: E402
from core.embedding import HYBRID_ITERATIONS, REFINE_RECIPE, EmbeddingInputError, embed  # noqa: E402
from core.image_io import ImageInputError, load_image_file  # noqa: E402
from core.image_io import pil_to_model_input  # noqa: E402
from core.images import difference_image, make_grid, seed_to_display, to_pil  # noqa: E402
from core.inversion_start import shipped_inversion_start  # noqa: E402
from core.interpolation import interpolate_seeds  # noqa: E402
from core.projection import project  # noqa: E402
from core.seed_files import SeedFileError, load_seed_file, save_seed_file  # noqa: E402
from core.seeds import parse_seed_list, seeded_noise  # noqa: E402

ASSETS = Path(__file__).resolve().parent / "assets"
GENERATORS = {name: load_generator(ASSETS / name) for name in ("fashion", "digits") if (ASSETS / name / "config.json").is_file()}
EMBEDDER_PATH = ASSETS / "embedders" / "fashion-unet"
EMBEDDER = load_embedder(EMBEDDER_PATH) if (EMBEDDER_PATH / "config.json").is_file() else None
REFINED_PATH = ASSETS / "embedders" / "fashion-unet-refined"  # the same network's seed, corrected after one sampling
REFINED_EMBEDDER = load_embedder(REFINED_PATH) if (REFINED_PATH / "config.json").is_file() else None
CLASSIFIER = load_classifier(ASSETS / "classifier") if (ASSETS / "classifier" / "config.json").is_file() else None
DIRECTIONS_PATH = ASSETS / "fashion" / "directions.safetensors"
DIRECTIONS = load_directions(DIRECTIONS_PATH, GENERATORS["fashion"].image_shape) if DIRECTIONS_PATH.is_file() and "fashion" in GENERATORS else None
EXAMPLES = sorted(str(p) for p in (ASSETS / "examples").glob("*.png"))
FASHION_EXAMPLES = [p for p in EXAMPLES if Path(p).name.startswith("test")]
OOD_EXAMPLES = [p for p in EXAMPLES if Path(p).name.startswith("ood")]
MAX_IMAGES = 256
GENERATE_CHUNK = 32  # images per generator call in the Generate tab (one progress step each)
STRIP_COLUMNS = 8  # frames per row of the Interpolate strip
DIRECTION_COLUMNS = 4  # frames per row of the Directions strip: 8 in one row were 65 px high
HYBRID_DESCENT = replace(REFINE_RECIPE, iterations=HYBRID_ITERATIONS)  # the embedding table's network-start hybrid
GENERATOR_STEPS = 10  # the DDIM steps of G: the steps every embedding inverts
DISPLAY_SIZE = 224
OUTPUTS = Path(tempfile.mkdtemp(prefix="ddim-embedding-demo-"))


OUTPUT_LIFETIME_S = 3600  # a request's files (seed .npy, GIF) are kept this long: Gradio has served them by then


def _request_folder() -> Path:
    """A new folder for one request's files (two users' files of one name do not meet); folders older
    than OUTPUT_LIFETIME_S are removed first, so a long-running demo does not fill its disk."""
    cutoff = time.time() - OUTPUT_LIFETIME_S
    for old in OUTPUTS.glob("request-*"):
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="request-", dir=OUTPUTS))


def _seed_download(name: str, seeds: torch.Tensor) -> str:
    """Seeds (N, C, H, W) as NAME.seed.npy in a folder of this request's own (two users' files of one name do not meet)."""
    path = _request_folder() / f"{name}.seed.npy"
    save_seed_file(path, seeds)
    return str(path)


def _upscaled_examples(paths: list[str], size: int = 280) -> list[str]:
    """28x28 examples are too small to paint on: nearest-neighbour copies at `size` pixels for the sketch editor."""
    folder = OUTPUTS / "editor_examples"
    folder.mkdir(exist_ok=True)
    copies = []
    for path in paths:
        copy = folder / Path(path).name
        Image.open(path).convert("RGB").resize((size, size), Image.NEAREST).save(copy)
        copies.append(str(copy))
    return copies


EDITOR_EXAMPLES = _upscaled_examples(FASHION_EXAMPLES[:6])
EMBED_METHODS = {  # the first is the default, as in core.embedding.embed
    "fixed point (near-exact)": "fixed_point",
    "network (instant)": "network",
    **({"network + refiner (one sampling, sharper)": "network_refined"} if REFINED_EMBEDDER is not None else {}),
    f"hybrid (quick seed + {HYBRID_DESCENT.iterations} descent steps, slow)": "hybrid",
    "DDIM inversion (naive)": "ddim_inversion",
}
INTERPOLATION_ENDS = {"exact (fixed point)": "fixed_point", "network (instant, approximate)": "network"}


def _finite(images: torch.Tensor) -> torch.Tensor:
    """Refuse NaN or infinite results (a broken model) instead of showing black images."""
    if not torch.isfinite(images).all():
        raise gr.Error("The model produced NaN or infinite values (a broken checkpoint?); nothing to show.")
    return images


def _big(image: torch.Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] -> a PIL image enlarged with nearest-neighbour for display."""
    pil = to_pil(_finite(image))
    scale = max(1, DISPLAY_SIZE // pil.width)
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def _generator(name: str):
    if name not in GENERATORS:
        raise gr.Error(f"unknown generator {name!r}; choose one of {sorted(GENERATORS)}")
    return GENERATORS[name]


def _upload_path(upload: dict | str | None) -> tuple[str | None, str]:
    """An image input's raw value -> (file path, the name the user gave it).

    The image events run with preprocess=False: Gradio's own preprocessing opens the upload with PIL
    first (a corrupt file then failed there, with a bare 'Error' and no message) and converts it to
    RGB (a grey, 16-bit or transparent image arrived changed). core.image_io reads the file as it is
    and says what is wrong with it. Gradio still moves the upload to its cache and refuses a path
    outside its upload folder before any handler runs (blocks.preprocess_data does that either way)."""
    if upload is None or isinstance(upload, str):
        return upload, Path(upload).name if upload else ""
    path = upload.get("path")
    return path, upload.get("orig_name") or (Path(path).name if path else "")


def _read_image(upload: dict | str | None, generator) -> tuple[torch.Tensor, str]:
    path, name = _upload_path(upload)
    if not path:
        raise gr.Error("Upload an image or pick an example first.")
    try:
        return load_image_file(path, generator.image_shape)
    except ImageInputError as error:
        raise gr.Error(str(error).replace(str(path), name)) from None


def _embedder_for(generator, method: str = "network"):
    """The shipped embedder for `method` ("network_refined": the refined one), or None: they fit the Fashion-MNIST generator only."""
    if generator is not GENERATORS.get("fashion"):
        return None
    return REFINED_EMBEDDER if method == "network_refined" else EMBEDDER


def _reporter(progress):
    """core's progress(done, total, message) -> Gradio's progress bar; None without a bar."""
    if progress is None:
        return None

    def report(done: int, total: int, message: str) -> None:
        progress((done, total), desc=message)

    return report


def _embed_one(generator, image: torch.Tensor, method: str, progress=None):
    embedder = _embedder_for(generator, method)
    if method in ("network", "network_refined") and embedder is None:
        raise gr.Error("No embedding network of this kind is shipped for this generator: choose another method.")
    report = _reporter(progress)
    descent = HYBRID_DESCENT if method == "hybrid" else None
    try:  # the refined embedder is method "network" with another embedder
        result = embed(generator, image[None], "network" if method == "network_refined" else method, embedder=embedder,
                       descent=descent, progress=report)
    except EmbeddingInputError as error:
        raise gr.Error(str(error)) from None
    _finite(result.seeds), _finite(result.reconstructions)
    return result


@torch.no_grad()
def generate(model_name: str, seed_text: str, steps: int, progress=gr.Progress()):
    """Seed numbers -> a grid of generated images."""
    generator = _generator(model_name)
    try:
        seeds = parse_seed_list(seed_text, max_count=MAX_IMAGES)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    noise = seeded_noise(seeds, generator.image_shape)
    # in chunks, for a progress bar: 256 seeds at 50 steps take minutes on a CPU (a seed's image does not depend on its batch)
    chunks = [noise[start : start + GENERATE_CHUNK] for start in range(0, len(noise), GENERATE_CHUNK)]
    images = torch.cat([generator.generate(chunk, steps=int(steps))
                        for chunk in progress.tqdm(chunks, desc=f"generating {len(seeds)} images, {GENERATE_CHUNK} a batch",
                                                   unit="batches")])
    return make_grid(_finite(images), scale=max(1, DISPLAY_SIZE // generator.config.image_size))


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
    if int(steps) != GENERATOR_STEPS:
        gr.Warning(f"Seeds found by embedding reproduce their image with the generator's {GENERATOR_STEPS} DDIM steps; "
                   f"at {int(steps)} steps the images differ.")
    images = generator.generate(seeds, steps=int(steps))
    return make_grid(_finite(images), scale=max(1, DISPLAY_SIZE // generator.config.image_size))


def embed_image(upload: dict | str | None, model_name: str, method_label: str, progress=gr.Progress()):
    """Image -> (model input, seed, reconstruction, a report, the seed as a .npy file)."""
    generator = _generator(model_name)
    method = EMBED_METHODS.get(method_label)
    if method is None:
        raise gr.Error(f"unknown method {method_label!r}; choose one of {list(EMBED_METHODS)}")
    image, note = _read_image(upload, generator)
    result = _embed_one(generator, image, method, progress)
    seed_path = _seed_download(f"{Path(_upload_path(upload)[1]).stem or 'image'}.{model_name}.{method}", result.seeds)
    cost = {"network": "one embedding-network pass, no generator evaluation",
            "network_refined": f"one embedding-network pass, one sampling of its seed ({result.nfe} generator evaluations) and one "
                               "refiner pass"}.get(method, f"{result.nfe} generator (UNet) evaluations")
    start = ""
    learned = shipped_inversion_start(generator) if method == "fixed_point" else None
    if learned is not None:
        upper = ", the solves nearest t = 1 from learned guesses" if learned.config.upper_states else ""
        start = (f" The first solve started from the learned x0 start{upper} (core/inversion_start.py), at no generator "
                 "evaluation.")
    if method == "hybrid":
        start = " Start: the embedding network's seed." if _embedder_for(generator) is not None else " Start: DDIM inversion's seed."
    report = (f"**{method_label}** — PSNR **{result.psnr[0]:.2f} dB**, MSE {result.mse[0]:.2e}, "
              f"{cost}, {result.seconds:.2f} s.{start} Input: {note}. "
              f"The seed file reproduces G(z) with the generator's {GENERATOR_STEPS} DDIM steps.")
    return _big(image), _big(seed_to_display(result.seeds[0])), _big(result.reconstructions[0]), report, seed_path


def strip_columns(frames: int) -> int:
    """Columns of the Interpolate strip: at most STRIP_COLUMNS (32 in one row were 30 px high), and rows
    as even as they go (17 frames: 6 + 6 + 5, not 8 + 8 + 1)."""
    rows = math.ceil(frames / STRIP_COLUMNS)
    return math.ceil(frames / rows)


def interpolate(first: dict | str | None, second: dict | str | None, frames: int, mode: str,
                ends: str = next(iter(INTERPOLATION_ENDS)), progress=gr.Progress()):
    """Two images -> embedded -> a path of N frames: (strip image, animated GIF path, report)."""
    generator = _generator("fashion")
    frames = int(frames)
    if not 2 <= frames <= 32:
        raise gr.Error("frames must be between 2 and 32")
    method = INTERPOLATION_ENDS.get(ends)
    if method is None:
        raise gr.Error(f"unknown end seeds {ends!r}; choose one of {list(INTERPOLATION_ENDS)}")
    images = [_read_image(upload, generator)[0] for upload in (first, second)]
    results = [_embed_one(generator, image, method, progress) for image in images]
    seeds = [result.seeds[0] for result in results]
    path = interpolate_seeds(seeds[0], seeds[1], frames, "spherical" if mode.startswith("spherical") else "linear")
    with torch.no_grad():
        frames_images = generator.generate(path)
    strip = make_grid(_finite(frames_images), columns=strip_columns(frames), scale=4)
    names = [Path(_upload_path(upload)[1]).stem or "image" for upload in (first, second)]
    gif_path = _request_folder() / f"{names[0]}-to-{names[1]}.{'spherical' if mode.startswith('spherical') else 'linear'}.gif"
    pictures = [_big(frame) for frame in frames_images]
    pictures[0].save(gif_path, save_all=True, append_images=pictures[1:] + pictures[::-1][1:-1], duration=120, loop=0)
    report = (f"End seeds by **{ends}**: PSNR of the first frame against the first image {results[0].psnr[0]:.1f} dB, "
              f"of the last against the second {results[1].psnr[0]:.1f} dB (40 dB and above: no visible difference).")
    return strip, str(gif_path), report


def _class_report(image: torch.Tensor, top: int = 3) -> str:
    """'sneaker 91%, sandal 6%, ...' from the shipped classifier, or '' without it."""
    if CLASSIFIER is None or image.shape[0] != 1:
        return ""
    with torch.no_grad():
        probabilities = CLASSIFIER(image[None]).softmax(1)[0]
    best = probabilities.topk(top)
    return ", ".join(f"{FASHION_MNIST_CLASSES[i]} {p:.0%}" for p, i in zip(best.values.tolist(), best.indices.tolist()))


def _needs_embedder():
    if EMBEDDER is None or "fashion" not in GENERATORS:
        raise gr.Error("This tab needs the shipped Fashion-MNIST generator and its embedding network (assets/).")
    return GENERATORS["fashion"]


def _fidelity(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise gr.Error("fidelity must be between 0 (projected) and 1 (faithful)")
    return value


def _editor_layer(array: np.ndarray | None) -> Image.Image | None:
    return None if array is None else Image.fromarray(np.asarray(array).astype(np.uint8))


def _picture_box(background: Image.Image) -> tuple[int, int, int, int] | None:
    """The picture inside the editor's letterbox: the editor fits an upload that is not square into its square canvas
    with fully transparent bars (which would become black bars of the model's input). Only such bars are cut: the
    box must span the canvas's full width or height and be opaque inside, so a garment on a transparent
    background keeps its margins (and goes on black, as in the other tabs)."""
    if background.mode not in ("RGBA", "LA"):
        return None
    alpha = background.getchannel("A")
    box = alpha.getbbox()
    if box is None or box == (0, 0, *background.size):
        return None
    full_width, full_height = box[0] == 0 and box[2] == background.width, box[1] == 0 and box[3] == background.height
    if not (full_width or full_height) or alpha.crop(box).getextrema()[0] == 0:
        return None
    return box


def edit_by_sketch(editor: dict | None, fidelity: float, progress=gr.Progress()):
    """An image with painted strokes -> (before, after, difference, report); the generator integrates the sketch."""
    generator = _needs_embedder()
    fidelity = _fidelity(fidelity)
    if not editor or editor.get("background") is None:
        # a file the browser cannot decode (corrupt, not an image) never leaves the editor: say so, it shows nothing itself
        raise gr.Error("Upload an image to edit (or pick an example), then paint on it. A file that did not appear in the "
                       "editor after you chose it could not be read as an image by your browser (corrupt, or not an image).")
    layers = [np.asarray(layer) for layer in editor.get("layers") or [] if layer is not None]
    painted = sum(int((layer[..., 3] > 0).sum()) if layer.ndim == 3 and layer.shape[-1] == 4 else 0 for layer in layers)
    if painted == 0:
        raise gr.Error("The sketch is empty: paint a change on the image with the brush, then press Edit.")
    background, composite = _editor_layer(editor["background"]), _editor_layer(editor.get("composite"))
    if composite is None:  # the API may send only background + layers: paint them on ourselves
        composite = background.convert("RGBA")
        for layer in layers:
            composite = Image.alpha_composite(composite, Image.fromarray(layer.astype(np.uint8)).convert("RGBA").resize(composite.size))
    box = _picture_box(background)
    if box is not None:  # the picture without the editor's transparent bars; the sketch over it
        background, composite = background.crop(box), composite.crop(box)
    try:
        before, note = pil_to_model_input(background, generator.image_shape, "background")
        sketch, _ = pil_to_model_input(composite, generator.image_shape, "sketch")
    except ImageInputError as error:
        raise gr.Error(str(error)) from None
    result = project(generator, EMBEDDER, sketch[None], fidelity, progress=_reporter(progress))
    after = result.images[0]
    changed = (sketch - before).abs().amax(0).gt(0.02).float().mean().item()
    text = (f"Fidelity {fidelity:.2f} (1 = the sketch exactly, 0 = the generator's nearest garment): PSNR to the sketch "
            f"**{result.psnr[0]:.1f} dB**. The sketch changed {changed:.0%} of the pixels. "
            f"Input (the editor's picture{', without its transparent bars' if box is not None else ''}): {note}.")
    classes = _class_report(after)
    if classes:
        text += f" The result looks like: {classes}."
    return (_big(before), _big(sketch), _big(after), _big(difference_image(after, before)), text,
            _seed_download(f"edit.fidelity-{fidelity:.2f}", result.seeds))


def project_image(upload: dict | str | None, fidelity: float, progress=gr.Progress()):
    """Any image -> (the model's input, its projection onto the generator's images, the seed, a report)."""
    generator = _needs_embedder()
    fidelity = _fidelity(fidelity)
    image, note = _read_image(upload, generator)
    result = project(generator, EMBEDDER, image[None], fidelity, progress=_reporter(progress))
    text = f"Converted for the model: {note}. PSNR of the projection to the input: **{result.psnr[0]:.1f} dB** (fidelity {fidelity:.2f})."
    classes = _class_report(result.images[0])
    if classes:
        text += f" The projection looks like: {classes}."
    name = Path(_upload_path(upload)[1]).stem or "image"
    return (_big(image), _big(result.images[0]), _big(seed_to_display(result.seeds[0])), text,
            _seed_download(f"{name}.projection.fidelity-{fidelity:.2f}", result.seeds))


def move_along_direction(upload: dict | str | None, target: str, strength: float, frames: int = 7):
    """Image -> its seed moved toward another class's centroid: (strip from 0 to `strength`, report)."""
    generator = _needs_embedder()
    if DIRECTIONS is None:
        raise gr.Error(f"No class directions are shipped ({DIRECTIONS_PATH.name}); run `python -m core.directions`.")
    if CLASSIFIER is None:
        raise gr.Error("This tab needs the shipped classifier (assets/classifier) to tell the seed's class.")
    if target not in DIRECTIONS.class_names:
        raise gr.Error(f"unknown class {target!r}; choose one of {DIRECTIONS.class_names}")
    strength = float(strength)
    if not 0.0 <= strength <= 4.0:
        raise gr.Error("strength must be between 0 and 4")
    image, _ = _read_image(upload, generator)
    embedded = _embed_one(generator, image, "network")
    seed = embedded.seeds[0]
    with torch.no_grad():
        # the source is what the seed shows (the first frame), not the input: the move starts from the seed
        source = int(CLASSIFIER(embedded.reconstructions).argmax(1))
        path = DIRECTIONS.move(seed, source, target, torch.linspace(0, strength, frames))
        images = generator.generate(path)
    labels = [_class_report(frame, top=1) for frame in images]
    text = (f"Seed from the embedding network; source class (classifier on G(z), the first frame after the input): "
            f"**{DIRECTIONS.class_names[source]}**. "
            f"Moved by s × (centroid[{target}] - centroid[{DIRECTIONS.class_names[source]}]), s = 0 ... {strength:g}. "
            f"Classifier along the path: {' → '.join(labels) if labels[0] else 'not available'}.")
    if DIRECTIONS.class_names[source] == target:
        text += f" G(z) is already classified as {target}: the direction is zero, so every frame is the same; choose another class."
    return make_grid(_finite(torch.cat([image[None], images])), columns=DIRECTION_COLUMNS, scale=4), text


# Gradio shows an upload at its own size: a 28x28 garment was a thumbnail in a 260-pixel box. Scale every preview to
# fill its box, with sharp pixels (what the model sees is 28x28 anyway). Gradio 6 takes css in launch(): use launch_demo.
DEMO_CSS = ".upload-preview .image-frame img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"


def launch_demo(**options) -> None:
    """demo.launch with the demo's CSS (Gradio 6 takes it there, not in Blocks); options as for launch."""
    demo.launch(css=DEMO_CSS, max_file_size="10mb", **options)


with gr.Blocks(title="Image embedding for DDIM diffusion models") as demo:
    gr.Markdown(
        "# Embedding images in DDIM diffusion models\n"
        "A deterministic DDIM generator G maps a seed z (a noise image) to an image G(z); embedding finds z for a given image. "
        "Everything runs on the CPU with the project's own small Fashion-MNIST and digits generators."
    )
    with gr.Tab("Embed"):
        gr.Markdown("Find a seed z with G(z) ≈ your image. **PSNR** says how close G(z) is to the model's input: 40 dB "
                    "and above is no visible difference, 25 dB a fair likeness, 15 dB a rough one. The seed is a 28×28 "
                    "noise image, shown grey at 0 and black or white at ±3. **Fixed point** inverts each of G's 10 steps "
                    "and reproduces almost any image; the **network** answers at once but only approximately, and "
                    "**network + refiner** samples the network's seed once and corrects it (about 3 dB closer on test images).")
        with gr.Row():
            with gr.Column():
                embed_input = gr.Image(type="filepath", label="image (any size or colour)", sources=["upload", "clipboard"], height=260,
                 elem_classes="upload-preview")
                embed_model = gr.Dropdown(sorted(GENERATORS), value="fashion", label="generator")
                embed_method = gr.Radio(list(EMBED_METHODS), value=list(EMBED_METHODS)[0], label="method")
                embed_button = gr.Button("Embed", variant="primary")
                gr.Examples(EXAMPLES, inputs=embed_input, examples_per_page=len(EXAMPLES))  # all on one page
            with gr.Column():
                with gr.Row():
                    embed_original = gr.Image(label="model input", type="pil", format="png")
                    embed_seed = gr.Image(label="seed z", type="pil", format="png")
                    embed_reconstruction = gr.Image(label="G(z)", type="pil", format="png")
                embed_report = gr.Markdown(label="report")
                embed_file = gr.File(label="seed (.npy)")
        embed_button.click(embed_image, [embed_input, embed_model, embed_method],
                           [embed_original, embed_seed, embed_reconstruction, embed_report, embed_file], api_name="embed",
                           preprocess=False)  # the upload as it is: see _upload_path
    with gr.Tab("Edit by sketch", elem_id="edit-tab"):
        gr.Markdown("Paint a change on a garment (white adds, black removes). The edited image is embedded and regenerated, "
                    "so the generator integrates the sketch. **Fidelity** blends the seed between the embedding network's "
                    "projection (0: the nearest garment the generator makes) and the exact fixed-point seed (1: the sketch itself). "
                    "Small or faint strokes may survive only at high fidelity (0.9 to 1).")
        with gr.Row():
            with gr.Column():
                sketch_editor = gr.ImageEditor(type="numpy", image_mode="RGBA", sources=["upload", "clipboard"], label="image + your sketch",
                                               brush=gr.Brush(colors=["#ffffff", "#000000", "#808080"], default_color="#ffffff", default_size=20),
                                               transforms=[], canvas_size=(280, 280), fixed_canvas=True, height=380)
                sketch_fidelity = gr.Slider(0, 1, value=0.6, step=0.01, label="fidelity: 0 = projected, 1 = faithful")
                sketch_button = gr.Button("Edit", variant="primary")
                gr.Examples(EDITOR_EXAMPLES, inputs=sketch_editor)
            with gr.Column():
                with gr.Row():
                    sketch_before = gr.Image(label="before", type="pil", format="png")
                    sketch_input = gr.Image(label="sketch (model input)", type="pil", format="png")
                with gr.Row():
                    sketch_after = gr.Image(label="after: G(z)", type="pil", format="png")
                    sketch_difference = gr.Image(label="difference (red brighter, blue darker)", type="pil", format="png")
                sketch_report = gr.Markdown(label="report")
                sketch_seed = gr.File(label="seed (.npy)")
        sketch_button.click(edit_by_sketch, [sketch_editor, sketch_fidelity],
                            [sketch_before, sketch_input, sketch_after, sketch_difference, sketch_report, sketch_seed], api_name="edit")
    with gr.Tab("Interpolate"):
        gr.Markdown("Both images are embedded, and the frames are G of seeds on the path between the two seeds. With "
                    "exact end seeds the first and last frames are the images themselves; the network's seeds give the "
                    "generator's version of them.")
        with gr.Row():
            first_image = gr.Image(type="filepath", label="first image", sources=["upload", "clipboard"], height=260,
                 elem_classes="upload-preview")
            second_image = gr.Image(type="filepath", label="second image", sources=["upload", "clipboard"], height=260,
                 elem_classes="upload-preview")
        with gr.Row():
            frames_slider = gr.Slider(2, 32, value=STRIP_COLUMNS, step=1, label="frames")
            mode_radio = gr.Radio(["spherical (slerp)", "linear"], value="spherical (slerp)", label="path")
            ends_radio = gr.Radio(list(INTERPOLATION_ENDS), value=next(iter(INTERPOLATION_ENDS)), label="end seeds")
            interpolate_button = gr.Button("Interpolate", variant="primary")
        gr.Examples([[EXAMPLES[i], EXAMPLES[j]] for i, j in ((3, 4), (5, 9)) if len(EXAMPLES) > 9], inputs=[first_image, second_image])
        strip_image = gr.Image(label="path", type="pil", format="png")
        interpolate_report = gr.Markdown(label="report")
        gif_file = gr.Image(label="animation", type="filepath")
        interpolate_button.click(interpolate, [first_image, second_image, frames_slider, mode_radio, ends_radio],
                                 [strip_image, gif_file, interpolate_report], api_name="interpolate", preprocess=False)
    with gr.Tab("Generate"):
        gr.Markdown("Seed numbers (or a seed file from the other tabs) to images: seed n is the noise that torch draws "
                    "from generator seed n, and G turns it into an image in 10 DDIM steps. Other step counts are the "
                    "same network sampled more finely or coarsely; embedded seeds reproduce their image only at 10.")
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
    with gr.Tab("Directions"):
        gr.Markdown("Class centroids are the mean seeds of embedded *training* images of each class. The image's seed z "
                    "moves to z + s (centroid[target] - centroid[source]); the source class is the classifier's reading "
                    "of G(z), the seed's own image. The strip shows the input, then the frames from s = 0 to the strength.")
        with gr.Row():
            with gr.Column():
                direction_image = gr.Image(type="filepath", label="image", sources=["upload", "clipboard"], height=260,
                 elem_classes="upload-preview")
                direction_target = gr.Dropdown(DIRECTIONS.class_names if DIRECTIONS else [], value="Dress" if DIRECTIONS else None,
                                               label="move toward class")
                direction_strength = gr.Slider(0, 4, value=2, step=0.1, label="strength s (the last frame)")
                direction_button = gr.Button("Move", variant="primary")
                gr.Examples(FASHION_EXAMPLES, inputs=direction_image)
            with gr.Column():
                direction_strip = gr.Image(label="input, then s = 0 ... strength", show_label=False, type="pil", format="png")
                direction_report = gr.Markdown(label="report")
        direction_button.click(move_along_direction, [direction_image, direction_target, direction_strength],
                               [direction_strip, direction_report], api_name="direction", preprocess=False)
    with gr.Tab("Project any image", elem_id="project-tab"):
        gr.Markdown("Any photo, any size or colour: it is converted as the model needs (shown), embedded by the network "
                    "and regenerated, which sends it to the nearest image the generator can make. Raise fidelity to keep more of it.")
        with gr.Row():
            with gr.Column():
                project_input = gr.Image(type="filepath", label="any image", sources=["upload", "clipboard"], height=260,
                 elem_classes="upload-preview")
                project_fidelity = gr.Slider(0, 1, value=0, step=0.01, label="fidelity: 0 = projected, 1 = faithful")
                project_button = gr.Button("Project", variant="primary")
                gr.Examples(OOD_EXAMPLES + FASHION_EXAMPLES[:2], inputs=project_input)
            with gr.Column():
                with gr.Row():
                    project_converted = gr.Image(label="converted input", type="pil", format="png")
                    project_output = gr.Image(label="projection G(z)", type="pil", format="png")
                    project_seed = gr.Image(label="seed z", type="pil", format="png")
                project_report = gr.Markdown(label="report")
                project_seed_file = gr.File(label="seed (.npy)")
        project_button.click(project_image, [project_input, project_fidelity],
                             [project_converted, project_output, project_seed, project_report, project_seed_file],
                             api_name="project", preprocess=False)

demo.queue(default_concurrency_limit=2, max_size=64)

if __name__ == "__main__":
    # Locally bound to 127.0.0.1; a Hugging Face Space sets GRADIO_SERVER_NAME=0.0.0.0 to be reachable.
    launch_demo(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
