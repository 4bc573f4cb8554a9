"""Datasets for digitlab: the IDX format, the bundled MNIST, digit CSV files, and batching.

    from digitlab.data import load_data, load_mnist
    (x_train, y_train), (x_test, y_test) = load_data()        # uint8, like Keras
    (x_train, t_train), (x_test, t_test) = load_mnist()       # float32 rows, like the book
    (x_train, y_train), (x_test, y_test) = load_dataset("fashion-mnist")  # downloaded once, cached
"""

from digitlab.data.batches import iterate_batches, num_batches, sample_batches, to_float32
from digitlab.data.csv import load_csv
from digitlab.data.download import DATASETS, load_dataset
from digitlab.data.idx import read_idx, write_idx
from digitlab.data.labels import one_hot
from digitlab.data.mnist import MNIST_DIR, load_data, load_mnist

__all__ = [
    "DATASETS",
    "MNIST_DIR",
    "iterate_batches",
    "load_csv",
    "load_data",
    "load_dataset",
    "load_mnist",
    "num_batches",
    "one_hot",
    "read_idx",
    "sample_batches",
    "to_float32",
    "write_idx",
]
