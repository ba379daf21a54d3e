"""Dataset adapters, media decoding, preprocessing, caches and the synthetic benchmark."""
