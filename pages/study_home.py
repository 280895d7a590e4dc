"""Home of the study pages: what they show, which study they read, and a new study on demand."""

import time
from pathlib import Path

import streamlit as st

from explorer.loaders import (STUDY_KEY, compute_study, computed_study_folders, example_files, fashion_test_images,
                              generator_names, get_generator_at, image_from_upload, open_study, shipped_study_dir, to_display,
                              ASSETS)

MAX_NEW_IMAGES = 4  # each image costs minutes of descent on a CPU

st.title("The shape of emb(x)")
st.markdown(
    "A deterministic DDIM generator G maps a seed z (a 28x28 noise image for the shipped model) to an image. "
    "**emb(x)** is the set of seeds with G(z) ≈ x; **emb_ε(x)** those within a tolerance ε, given as a PSNR "
    "(30 dB = MSE 0.001). A **cloud** samples it: seeds found by descent (Gauss-Newton) from independent random starts. "
    "**z\\*** is the seed of near-exact fixed-point inversion; the embedding network and naive DDIM inversion give one seed "
    "each too. Each page asks one question of the same study:\n"
    "- **Clouds and projections**: where the clouds, z\\* and the other seeds sit (UMAP and PCA); pick a point to see G(seed).\n"
    "- **Interpolation**: the error along straight and spherical paths between two seeds.\n"
    "- **Convexity**: do convex combinations of k cloud seeds stay inside emb_ε(x)?\n"
    "- **Connectivity**: which cloud seeds are joined by segments inside emb_ε(x), and a path search between two.\n"
    "- **Intersection**: are the clouds of different images apart?\n"
    "- **Local geometry**: the Jacobian of G at z\\*: is emb(x) a point, and how long is each axis of emb_ε(x)?\n"
    "- **Seed statistics and independence**: do embedded seeds look like N(0, I) noise, can a seed tell a foreign image, "
    "and does a seed mean the same image under a second generator?\n\n"
    "Numbers come from the study folder (computed once by `python -m core.study`); choices the folder does not cover are "
    "computed on demand and cached."
)

# 1. Which study the pages read.
shipped = shipped_study_dir()
options = [None] + [str(p) for p in computed_study_folders()]
labels = {None: f"shipped study ({shipped})"}
labels.update({str(p): f"computed here: {p.name}" for p in computed_study_folders()})
current = st.session_state.get(STUDY_KEY)
choice = st.selectbox("study", options, index=options.index(current) if current in options else 0, format_func=labels.get)
st.session_state[STUDY_KEY] = choice
study, problem = open_study(shipped if choice is None else Path(choice))
if study is None:
    st.info(problem)
else:
    s = study.summary
    columns = st.columns(5)
    columns[0].metric("images", len(study.names))
    columns[1].metric("tolerances", ", ".join(study.levels))
    columns[2].metric("cloud starts per image", s["config"]["cloud_size"])
    columns[3].metric("projections", ", ".join(m.upper() for m in s.get("projections", {})) or "none")
    columns[4].metric("minutes, last run", f"{s.get('seconds', 0) / 60:.1f}",
                      help="the run that wrote this folder; images whose results were cached by an earlier run cost it "
                           "nothing (the shipped study's per-image results took 88.5 minutes: README, the study)")
    st.caption(f"Generator `{s.get('generator')}`; embedder `{s.get('embedder') or 'none'}`; second generator "
               f"`{s.get('twin') or 'none'}`. Command: `{s.get('command', '?')}`")
    st.image(to_display(study.images(), scale=3), width=84,
             caption=[f"{n} ({s['images'][n]['kind']})" for n in study.names])
    missing = [label for key, label in (("independence", "independence (no second generator)"), ("ood", "out-of-distribution AUROC"),
                                        ("separation", "intersection (needs 2 images)")) if not s.get(key)]  # a 1-image study has separation {}
    if "umap" not in s.get("projections", {}):
        missing.append("UMAP")
    if missing:
        st.caption("Not in this study: " + ", ".join(missing) + ".")
    cloudless = [n for n in study.names if len(study.members(n, study.levels[0])) < 2]
    if cloudless:
        st.info(f"Fewer than 2 cloud seeds reached {study.levels[0]} for {', '.join(cloudless)}: the probes that combine cloud "
                "seeds (convexity, connectivity, intersection) have nothing to test there. For a photo that is a finding "
                "(descent from N(0, I) does not reach emb(x), although z* reproduces it); for a garment, more descent "
                "iterations may help.")

# 2. A new study for chosen images.
with st.expander("Compute a new study", expanded=study is None):
    st.warning("A study runs Gauss-Newton descent through the 10-step sampler for every cloud seed: expect minutes per image on "
               "a CPU. The result is written once and reused (any session) for the same images and settings.")
    names = generator_names()
    if not names:
        st.error("No generator under assets/: train one with `python -m core.train` (see the README).")
        st.stop()
    generator_name = st.selectbox("generator", names, index=names.index("fashion") if "fashion" in names else 0)
    generator_dir = str(ASSETS / generator_name)
    shape = get_generator_at(generator_dir).image_shape
    chosen: list[tuple[str, object, str, str]] = []
    files = example_files()
    picked = st.multiselect("example images", [p.name for p in files], default=[files[0].name] if files else [])
    from core.image_io import ImageInputError, load_image_file

    for path in files:
        if path.name in picked:
            image, note = load_image_file(path, shape)
            kind = "photo" if path.name.startswith("ood_") else "test"
            chosen.append((path.stem.replace("ood_", "photo_"), image.numpy(), f"assets/examples/{path.name} ({note})", kind))
    if shape == (1, 28, 28):
        if st.checkbox("add a Fashion-MNIST test image (never seen in training)"):
            index = st.number_input("test-set index", min_value=0, max_value=9999, value=0, step=1)
            chosen.append((f"test{index:04d}", fashion_test_images(10_000)[index], f"Fashion-MNIST test image {index}", "test"))
    else:
        st.caption(f"Test-set indices are Fashion-MNIST images (28x28); this generator makes {shape}.")
    uploads = st.file_uploader("or upload images (png, jpg, npy)", type=["png", "jpg", "jpeg", "npy"], accept_multiple_files=True)
    for upload in uploads or []:
        try:
            image, note = image_from_upload(upload.name, upload.getvalue(), shape)
        except ImageInputError as error:
            st.error(f"Skipped an upload: {error}")
            continue
        chosen.append((upload.name.rsplit(".", 1)[0], image, f"upload {upload.name} ({note})", "file"))
    seen: dict[str, int] = {}
    for i, (name, image, source, kind) in enumerate(chosen):  # unique names, as the CLI does
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            chosen[i] = (f"{name}_{seen[name] - 1}", image, source, kind)

    left, middle, right = st.columns(3)
    cloud_size = left.slider("cloud: descent starts per image", 2, 16, 6)
    psnr = middle.number_input("tolerance (PSNR, dB)", min_value=10.0, max_value=50.0, value=30.0, step=1.0)
    iterations = right.slider("Gauss-Newton iterations per seed (at most)", 5, 100, 40, step=5)
    st.caption(f"{len(chosen)} image(s) chosen" + (f"; at most {MAX_NEW_IMAGES}" if len(chosen) > MAX_NEW_IMAGES else "")
               + ". No UMAP, no convergence probe, no second generator: the shipped study has those. Leaving the page or "
               "changing a setting stops the computation; the images it finished are kept, and computing again reuses them.")
    ready = 1 <= len(chosen) <= MAX_NEW_IMAGES
    if st.button("Compute the study", type="primary", disabled=not ready):
        settings = {"psnr_levels": [float(psnr)], "cloud_size": int(cloud_size), "iterations": int(iterations),
                    "convexity_samples": 16, "random_reference": 64}
        with st.status("Computing the study...", expanded=True) as status:
            bar = st.progress(0.0)

            def progress(message: str, share: float) -> None:  # run_study's stage and the share of the work done
                bar.progress(share, text=message)

            began = time.perf_counter()
            folder = compute_study(generator_dir, chosen, settings, progress)
            bar.progress(1.0, text="done")
            status.update(label=f"Study written to {folder} ({time.perf_counter() - began:.0f} s)", state="complete")
        st.session_state[STUDY_KEY] = str(folder)
        st.rerun()
