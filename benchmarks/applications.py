"""Applications of embeddings, measured: projection with the faithful <-> projected control, and
class directions in seed space.

    python -m benchmarks.applications                 # 100 test images, 100 edited ones, the scikit-image photos

Projection (core.projection): for each fidelity f, the PSNR of G(z(f)) to its input and the
shipped classifier's confidence in its top class (a proxy for "looks like a garment"; real test
images: about 0.88), on three sets: Fashion-MNIST test images, the same images with a white bar
painted across them (a sketch edit), and out-of-distribution photos from scikit-image.

Directions (core.directions): test images of every class are embedded by the network; each seed
is moved toward each of the 9 other classes by s * (centroid[target] - centroid[source]); the
hit rate is the share of results the classifier reads as the target class.
"""

from __future__ import annotations

import sys

import torch

from benchmarks.report import RESULTS, write_report
from core.atomic import save_image
from core.checkpoint import load_generator
from core.classifier import load_classifier
from core.cli_checks import ArgumentParser
from core.data import load_fashion_mnist
from core.directions import load_directions
from core.embedder import load_embedder
from core.images import make_grid
from core.photos import scikit_image_photos
from core.projection import project

FIDELITIES = (0.0, 0.25, 0.5, 0.75, 1.0)
def painted(images: torch.Tensor) -> torch.Tensor:
    """A white bar across rows 12-15: the edit a user might sketch."""
    edited = images.clone()
    edited[:, :, 12:16, 4:24] = 1.0
    return edited


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.applications", description=__doc__)
    parser.add_argument("--images", type=int, default=100, help="test images for projection")
    parser.add_argument("--per-class", type=int, default=5, help="test images per class for directions")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    args = parser.parse_args(argv)
    command = " ".join(["python -m benchmarks.applications", *(argv if argv is not None else sys.argv[1:])])

    generator = load_generator("assets/fashion")
    embedder = load_embedder("assets/embedders/fashion-unet")
    classifier = load_classifier("assets/classifier")
    test_images, test_labels = load_fashion_mnist("test")
    photos, photo_names = scikit_image_photos(generator.image_shape)
    sets = {"test images": test_images[:args.images], "test images + painted bar": painted(test_images[:args.images]),
            f"scikit-image photos ({len(photos)})": photos}

    def confidence(images: torch.Tensor) -> float:
        with torch.no_grad():
            return classifier(images).softmax(1).amax(1).mean().item()

    rows, picture_rows = [], []
    for set_name, images in sets.items():
        row = {"inputs": set_name, "classifier confidence of the input": confidence(images)}
        outputs = []
        for f in FIDELITIES:
            result = project(generator, embedder, images, f)
            row[f"PSNR f={f:g}"] = result.psnr.mean().item()
            row[f"confidence f={f:g}"] = confidence(result.images)
            outputs.append(result.images[:6])
        rows.append(row)
        picture_rows += [images[:6], *outputs]
        print(row, flush=True)
    save_image(RESULTS / "projection.png", make_grid(torch.cat(picture_rows), columns=6, scale=3))
    write_report("projection", "Projection: faithful (f = 1, exact fixed-point seed) to projected (f = 0, embedding network)", command, rows,
                 "PSNR of G(z(f)) to the input, z(f) = slerp(E(x), z_fixed_point(x), f); confidence = the shipped classifier's top-class "
                 "probability (real test images: about 0.88), a proxy for 'looks like a garment'. Photos: "
                 + ", ".join(photo_names) + ". Picture: benchmarks/results/projection.png (per set: 6 inputs, then f = 0, 0.25, 0.5, 0.75, 1).")

    directions = load_directions("assets/fashion/directions.safetensors", generator.image_shape)
    chosen = torch.cat([torch.nonzero(test_labels == k).flatten()[:args.per_class] for k in range(10)])
    with torch.no_grad():
        seeds = embedder(test_images[chosen])
    sources = test_labels[chosen].tolist()
    direction_rows = []
    for strength in args.strengths:
        moved, targets = [], []
        for seed, source in zip(seeds, sources):
            for target in range(10):
                if target != source:
                    moved.append(directions.move(seed, source, target, [strength])[0])
                    targets.append(target)
        with torch.no_grad():
            outputs = torch.cat([generator.generate(batch) for batch in torch.stack(moved).split(250)])
            predicted = classifier(outputs).argmax(1)
            targets = torch.tensor(targets)
            stayed = (predicted == torch.tensor([s for s in sources for _ in range(9)])).float().mean().item()
        direction_rows.append({"strength s": strength, "moves": len(moved), "hit rate (classified as target)": (predicted == targets).float().mean().item(),
                               "still the source class": stayed})
        print(direction_rows[-1], flush=True)
    write_report("directions", "Class directions in seed space: hit rate by strength", command, direction_rows,
                 f"Centroids: {directions.method} seeds of {int(directions.counts.sum())} training images "
                 f"(assets/fashion/directions.safetensors). Moves: {args.per_class} test images per class, each toward the 9 other "
                 "classes; chance level is 0.10.")


if __name__ == "__main__":
    main()
