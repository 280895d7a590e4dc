"""One-off: record the content hash (core.checkpoint.HASH_KEY) in safetensors files written
before hashes existed, and for a generator also in its config.json (CONFIG_HASH_KEY), without
changing a single weight byte.

    python scripts/add_content_hashes.py            # every *.safetensors under assets/
    python scripts/add_content_hashes.py FILE_OR_FOLDER ...

Each file is re-saved with its tensors and metadata as they are, plus the hash; then it is
read back and checked: every tensor byte-identical, the hash verified, and for a generator the
images G(z) of seeds 0-7 byte-identical before and after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from core.atomic import write_json
from core.checkpoint import (CONFIG_HASH_KEY, CONFIG_NAME, GENERATOR_KIND, HASH_KEY, load_generator, load_tensors, read_metadata,
                              save_tensors)
from core.seeds import seeded_noise

ROOT = Path(__file__).resolve().parent.parent


def _is_generator(path: Path) -> bool:
    config = path.parent / CONFIG_NAME
    try:
        return path.name == "model.safetensors" and json.loads(config.read_text()).get("kind") == GENERATOR_KIND
    except (OSError, ValueError):
        return False


def _samples(folder: Path) -> bytes:
    generator = load_generator(folder)
    with torch.no_grad():
        return generator.generate(seeded_noise(list(range(8)), generator.image_shape)).numpy().tobytes()


def add_config_hash(path: Path) -> str:
    """A generator's config.json gets the weights' hash too (verified at every load)."""
    config_path = path.parent / CONFIG_NAME
    config = json.loads(config_path.read_text())
    recorded = read_metadata(path)[HASH_KEY]
    if config.get(CONFIG_HASH_KEY) == recorded:
        return "config hash already recorded"
    samples_before = _samples(path.parent)
    write_json(config_path, {**config, CONFIG_HASH_KEY: recorded})
    assert {k: v for k, v in json.loads(config_path.read_text()).items() if k != CONFIG_HASH_KEY} == config
    assert _samples(path.parent) == samples_before, "G(z) changed"
    return "config hash added, G(z) of seeds 0-7 byte-identical"


def add_hash(path: Path) -> str:
    metadata = read_metadata(path)
    if HASH_KEY in metadata:
        load_tensors(path)  # verifies the recorded hash
        return "hash already recorded and verified" + ("; " + add_config_hash(path) if _is_generator(path) else "")
    before = load_file(str(path))
    samples_before = _samples(path.parent) if _is_generator(path) else None
    save_tensors(path, before, metadata)
    after = load_tensors(path)  # verifies the new hash
    assert before.keys() == after.keys(), path
    for name in before:
        assert before[name].dtype == after[name].dtype and before[name].shape == after[name].shape, name
        assert torch.equal(before[name].reshape(-1).view(torch.uint8), after[name].reshape(-1).view(torch.uint8)), name
    assert {k: v for k, v in read_metadata(path).items() if k != HASH_KEY} == metadata, "metadata changed"
    note = f"hash added, {len(after)} tensors byte-identical"
    if samples_before is not None:
        assert _samples(path.parent) == samples_before, "G(z) changed"
        note += ", G(z) of seeds 0-7 byte-identical; " + add_config_hash(path)
    return note


def main(argv: list[str]) -> int:
    targets = [Path(a) for a in argv] or [ROOT / "assets"]
    files = sorted(p for t in targets for p in ([t] if t.is_file() else t.rglob("*.safetensors")))
    for path in files:
        print(f"{path}: {add_hash(path)} (sha256 {read_metadata(path)[HASH_KEY][:16]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
