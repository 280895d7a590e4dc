"""Cached loaders and computations shared by every page of the Streamlit explorer.
Arguments starting with `_` are not hashed by Streamlit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.checkpoint import load_generator
from core.data import load_fashion_mnist
from core.embedder import load_embedder
from core.embedding import embed
from core.seeds import parse_seed_list, seeded_noise

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
RESULTS = ROOT / "benchmarks" / "results"


def generator_names() -> list[str]:
    return [p.parent.name for p in sorted(ASSETS.glob("*/config.json")) if '"ddim-generator"' in p.read_text()]


def embedder_names() -> list[str]:
    return [p.name for p in sorted((ASSETS / "embedders").glob("fashion-*")) if (p / "config.json").is_file()]


@st.cache_resource
def get_generator(name: str):
    return load_generator(ASSETS / name)


@st.cache_resource
def get_embedder(name: str):
    return load_embedder(ASSETS / "embedders" / name)


@st.cache_data
def fashion_test_images(count: int) -> np.ndarray:
    """(count, 1, 28, 28) float32 test images."""
    images, _ = load_fashion_mnist("test")
    return images[:count].numpy()


@st.cache_data(show_spinner="generating...")
def generate_images(name: str, seed_text: str, steps: int) -> np.ndarray:
    """Seeds -> (N, C, H, W) float32 images in [0, 1]."""
    generator = get_generator(name)
    seeds = parse_seed_list(seed_text)
    with torch.no_grad():
        return generator.generate(seeded_noise(seeds, generator.image_shape), steps=steps).numpy()


@st.cache_data(show_spinner="embedding...")
def embed_images(name: str, method: str, images: np.ndarray, embedder_name: str | None = None) -> dict:
    generator = get_generator(name)
    embedder = get_embedder(embedder_name) if embedder_name else None
    result = embed(generator, torch.from_numpy(images), method, embedder=embedder)
    return {"seeds": result.seeds.numpy(), "reconstructions": result.reconstructions.numpy(),
            "psnr": result.psnr.numpy(), "nfe": result.nfe, "seconds": result.seconds}


def training_log(name: str) -> pd.DataFrame | None:
    path = ASSETS / name / "training_log.jsonl"
    if not path.is_file():
        return None
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def benchmark_table(name: str) -> str | None:
    path = RESULTS / f"{name}.md"
    return path.read_text() if path.is_file() else None


def to_display(images: np.ndarray, scale: int = 4) -> list[np.ndarray]:
    """(N, C, H, W) in [0, 1] -> list of (H*scale, W*scale[, 3]) uint8 arrays for st.image."""
    out = []
    for image in images:
        array = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
        out.append(np.kron(array, np.ones((scale, scale) + (1,) * (array.ndim - 2), dtype=np.uint8)))
    return out


@st.cache_resource
def get_classifier():
    from core.classifier import load_classifier

    return load_classifier(ASSETS / "classifier")


@st.cache_resource
def get_directions():
    from core.directions import load_directions

    return load_directions(ASSETS / "fashion" / "directions.safetensors", get_generator("fashion").image_shape)


@st.cache_data(show_spinner="projecting...")
def projection_path(images: np.ndarray, fidelities: tuple[float, ...]) -> dict:
    """(N, C, H, W) images -> G(z(f)) for each fidelity f: {"images": (F, N, C, H, W), "psnr": (F, N)}."""
    from core.projection import project

    generator, embedder = get_generator("fashion"), get_embedder("fashion-unet")
    results = [project(generator, embedder, torch.from_numpy(images), f) for f in fidelities]
    return {"images": np.stack([r.images.numpy() for r in results]), "psnr": np.stack([r.psnr.numpy() for r in results])}


@st.cache_data(show_spinner="moving seeds...")
def direction_path(image: np.ndarray, target: str, strengths: tuple[float, ...]) -> dict:
    """One image (C, H, W) -> its network seed moved toward `target`: {"images": (S, C, H, W), "labels": [...], "source": str}."""
    generator, embedder, classifier, directions = get_generator("fashion"), get_embedder("fashion-unet"), get_classifier(), get_directions()
    with torch.no_grad():
        x = torch.from_numpy(image)[None]
        source = int(classifier(x).argmax(1))
        images = generator.generate(directions.move(embedder(x)[0], source, target, list(strengths)))
        labels = [directions.class_names[i] for i in classifier(images).argmax(1).tolist()]
    return {"images": images.numpy(), "labels": labels, "source": directions.class_names[source]}
