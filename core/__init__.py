"""Image embedding for DDIM diffusion models: the library behind the demo, dashboard and CLIs."""
