"""Training-time code: corpus extraction, training, export, evaluation, baselines.

Imported only by the training and evaluation commands; it may import torch and
music21, which the run-time process never loads.
"""
