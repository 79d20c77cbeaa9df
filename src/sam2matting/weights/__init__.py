"""Shipped weights (safetensors) and their manifests."""
