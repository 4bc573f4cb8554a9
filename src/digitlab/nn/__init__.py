"""digitlab's neural-network engine: NumPy only, float32, every backward pass written out."""

from digitlab.nn import accel, initializers, losses, ops, optimizers
from digitlab.nn.callbacks import (
                                   Callback,
                                   CosineDecay,
                                   EarlyStopping,
                                   EpochLog,
                                   History,
                                   LearningRateScheduler,
                                   ModelCheckpoint,
                                   ProgressBar,
                                   TerminateOnNaN,
)
from digitlab.nn.layers import (
                                   BatchNormalization,
                                   Conv2D,
                                   Dense,
                                   Dropout,
                                   Flatten,
                                   Layer,
                                   MaxPool2D,
                                   PReLU,
                                   ReLU,
                                   Sigmoid,
                                   Softmax,
                                   Tanh,
)
from digitlab.nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from digitlab.nn.model import Sequential
from digitlab.nn.optimizers import SGD, Adam, RMSprop
from digitlab.nn.serialization import load_model

__all__ = [
    "accel", "initializers", "losses", "ops", "optimizers",
    "Callback", "CosineDecay", "EarlyStopping", "EpochLog", "LearningRateScheduler", "ModelCheckpoint", "ProgressBar",
    "TerminateOnNaN", "BatchNormalization", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D", "PReLU",
    "ReLU", "Sigmoid", "Softmax", "Tanh", "BinaryCrossEntropy", "CategoricalCrossEntropy", "MeanSquaredError",
    "SoftmaxCrossEntropy", "History", "Sequential", "SGD", "Adam", "RMSprop", "load_model",
]
