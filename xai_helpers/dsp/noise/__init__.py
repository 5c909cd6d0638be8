"""Controlled noise: one module per noise family, a registry of noise types with fixed seed ids
(:mod:`.registry`), the examples they build (:mod:`.examples`) and SNR mixing (:mod:`.mixing`)."""
