"""Embed test images: pick Fashion-MNIST test images and a method; see seeds and reconstructions."""

import numpy as np
import streamlit as st

from core.images import seed_to_display
from explorer.loaders import embed_images, embedder_names, fashion_test_images, to_display

st.title("Embed Fashion-MNIST test images")
methods = ["ddim_inversion", "fixed_point"] + (["network"] if embedder_names() else [])
method = st.radio("method", methods, horizontal=True, index=1)
names = embedder_names()
embedder = (st.selectbox("embedder", names, index=names.index("fashion-unet") if "fashion-unet" in names else 0,
                         help="fashion-unet: the better one (MSE 0.0042 on test images); fashion-conv3: 13x faster, MSE 0.011")
            if method == "network" else None)
first = st.number_input("first test image", 0, 9990, 0)
count = st.slider("images", 1, 10, 6)
images = fashion_test_images(10_000)[first : first + count]
result = embed_images("fashion", method, images, embedder)
cost = ("one pass of the embedding network, no generator evaluation" if method == "network"
        else f"{result['nfe']} generator (UNet) evaluations per image")
st.caption(f"{cost}, {result['seconds'] / count:.3f} s per image")
import torch  # noqa: E402  (only for the seed display helper)

seeds = seed_to_display(torch.from_numpy(result["seeds"])).numpy()
for label, row in [("original", images), ("seed", seeds), ("reconstruction", result["reconstructions"])]:
    st.write(f"**{label}**")
    st.image(to_display(row), width=112)
st.write("PSNR (dB): " + ", ".join(f"{value:.1f}" for value in np.asarray(result["psnr"])))
