"""Where a generated object is: the alpha-weighted centroid, shared by the app's tests."""

import numpy as np


def centroid_x(alpha: np.ndarray) -> float:
    """Where the object is across the frame, in [0, 1], from an alpha clip ``(T, H, W)``."""
    weights = alpha.astype(np.float64).sum(axis=(0, 1))
    return float((weights * (np.arange(alpha.shape[2]) + 0.5)).sum() / weights.sum() / alpha.shape[2])
