"""Dataset files: where raw and processed files live, how they are written and read.

Nothing here imports torch, so post-processing runs on a laptop without it.
"""
