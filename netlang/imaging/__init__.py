"""Pictures -> the pixels a model takes: one conversion for training data and prediction alike.

Light on purpose (PIL is imported where an image is converted): `netlang predict` imports it
without the data package's loaders."""

from netlang.imaging.modes import convert_mode
from netlang.imaging.pixels import to_pixels

__all__ = ["convert_mode", "to_pixels"]
