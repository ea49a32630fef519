"""Measuring what a model draws: Chamfer distances of reconstructions, sample statistics."""
