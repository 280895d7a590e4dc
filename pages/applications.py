"""Projection (faithful <-> projected) and class directions on Fashion-MNIST test images."""

import numpy as np
import streamlit as st

from explorer.loaders import direction_path, fashion_test_images, get_directions, projection_path, to_display

st.title("Projection and directions")
index = st.number_input("test image", 0, 9999, 2)
image = fashion_test_images(10_000)[index : index + 1]
painted = st.toggle("paint a white bar across it (a sketch edit)", value=True)
if painted:
    image = image.copy()
    image[:, :, 12:16, 4:24] = 1.0

st.subheader("Projection: z(f) = slerp(E(x), z*, f)")
st.caption("f = 0: the embedding network's seed E(x) (the nearest image the generator makes); f = 1: z*, the exact fixed-point seed.")
fidelities = (0.0, 0.25, 0.5, 0.75, 1.0)
path = projection_path(image, fidelities)
st.image(to_display(np.concatenate([image, path["images"][:, 0]])), width=112,
         caption=["input"] + [f"f={f:g}: {p:.1f} dB" for f, p in zip(fidelities, path["psnr"][:, 0])])

st.subheader("Directions: E(x) + s (centroid[target] - centroid[source])")
directions = get_directions()
target = st.selectbox("toward class", directions.class_names, index=directions.class_names.index("Dress"))
strengths = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
moved = direction_path(fashion_test_images(10_000)[index], target, strengths)
st.caption(f"The test image as it is (without the painted bar). Source class (the classifier on G(E(x)), the seed's own image): {moved['source']}.")
if moved["source"] == target:
    st.info(f"G(E(x)) is already classified as {target}: its direction is zero, so every s gives the same image. Choose another class.")
st.image(to_display(moved["images"]), width=112, caption=[f"s={s:g}: {label}" for s, label in zip(strengths, moved["labels"])])
