"""Generic DeepLIFT (placeholder; filled in below)."""
