"""Overview: the shipped models, their training curves and the benchmark tables."""

import plotly.express as px
import streamlit as st

from explorer.loaders import benchmark_table, generator_names, generate_images, to_display, training_log

st.title("Embedding images in DDIM diffusion models")
st.write(
    "A deterministic DDIM generator G maps a seed z (a noise image) to an image. Embedding inverts it: "
    "given x, find z with G(z) = x. These pages show the project's shipped generators, their samples, "
    "and the embedding methods side by side."
)
names = generator_names()
if not names:
    st.error("No generator found under assets/. Train one with `python -m core.train` (see the README).")
    st.stop()

for name in names:
    st.subheader(f"Generator `{name}`")
    left, right = st.columns([1, 2])
    with left:
        st.image(to_display(generate_images(name, "0-15", 10), scale=3), width=84)
    with right:
        log = training_log(name)
        if log is not None and "val_loss" in log:
            figure = px.line(log, x="epoch", y=["train_loss", "val_loss"], title="noise-prediction loss per epoch")
            st.plotly_chart(figure, width="stretch")
        else:
            st.info("No training log shipped with this generator.")

for table in ("sample_quality", "speed", "embedding"):
    text = benchmark_table(table)
    if text:
        st.markdown(text)
