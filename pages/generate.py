"""Generate: seed numbers -> images, with any number of DDIM steps."""

import streamlit as st

from explorer.loaders import generate_images, generator_names, to_display

st.title("Generate from seeds")
name = st.selectbox("generator", generator_names())
seed_text = st.text_input("seeds", "0-31", help="numbers and ranges, e.g. 0-31,100")
steps = st.slider("DDIM steps", 1, 50, 10)
try:
    images = generate_images(name, seed_text, steps)
except ValueError as error:
    st.error(str(error))
    st.stop()
if len(images) > 256:
    st.warning("showing the first 256 images")
st.image(to_display(images[:256]), width=112, caption=[f"seed {i}" for i in range(len(images[:256]))] if len(images) <= 32 else None)
