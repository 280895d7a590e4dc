"""Generate: seed numbers -> images, with any number of DDIM steps."""

import streamlit as st

from core.seeds import parse_seed_list
from explorer.loaders import MAX_GENERATED, generate_images, generator_names, to_display

st.title("Generate from seeds")
names = generator_names()
name = st.selectbox("generator", names, index=names.index("fashion") if "fashion" in names else 0,
                    help="`fashion` is the default generator; the others are earlier or smaller ones (README, Shipped models)")
seed_text = st.text_input("seeds", "0-31", help=f"numbers and ranges, e.g. 0-31,100; at most {MAX_GENERATED} seeds")
steps = st.slider("DDIM steps", 1, 50, 10)
try:
    images = generate_images(name, seed_text, steps)
except ValueError as error:
    st.error(str(error))
    st.stop()
seeds = parse_seed_list(seed_text)
st.image(to_display(images), width=112, caption=[f"seed {s}" for s in seeds] if len(images) <= 32 else None)
