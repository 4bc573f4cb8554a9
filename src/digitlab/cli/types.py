"""Option types the commands share, for values click's own types let through."""

import math

import click


class PositiveNumber(click.FloatRange):
    """A float above zero, and a number: click's FloatRange passes "nan" (every comparison with
    NaN is false) and "inf", and a learning rate of either ruins a run a few steps in."""

    name = "positive number"

    def __init__(self):
        super().__init__(min=0, min_open=True)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SEED = click.IntRange(min=0)  # NumPy's generators take seeds from 0 up


class PngFile(click.Path):
    """The file to draw a figure to: digitlab writes figures as PNG, so its name ends in .png."""

    def __init__(self):
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        if not str(path).lower().endswith(".png"):
            self.fail(f"{str(value)!r} does not end in .png: figures are written as PNG.", param, ctx)
        return path
