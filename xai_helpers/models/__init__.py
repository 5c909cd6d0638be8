"""Mask models: the interface (:mod:`.base`), NSNet2 (:mod:`.nsnet2`), loading (:mod:`.cache`), the denoiser
(:mod:`.enhance`)."""
