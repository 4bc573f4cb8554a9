"""digitlab: handwritten-digit recognition with neural networks on a NumPy engine of its own."""

__version__ = "0.1.0"
