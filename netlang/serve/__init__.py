"""Serving: ONNX files -> an Open Inference Protocol (KServe V2 / Triton) HTTP server, and a Triton
model repository writer for deploying the same file to Triton or KServe.

Layers, in request order: `protocol` (bytes <-> validated tensors), `scheduler` (direct or dynamic
batching), `app` (ASGI routing and guards), `server` (model loading, uvicorn); `triton_repo`
derives Triton's config.pbtxt, `metrics` renders Prometheus text, and `text_input` tokenises
the sentences sent to a model that carries a tokenizer. May import runtime and data (and what is
below them); nothing of train or commands.
"""
