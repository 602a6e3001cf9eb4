"""Camera frames: what a frame model may detect, which model serves each class, evidence images.

The core reads models' plain files (labels, thresholds, card) only; running a model is the
``models.frame_detector`` package's work, which the jobs and the CLI import.
"""
