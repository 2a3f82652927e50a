"""The seed's script folder; its script runs by path or as a console script."""
