"""What convolution and pooling share: where a window of a given size fits in an image."""

from typing import Protocol


class Windowed(Protocol):
    """A layer that slides a window: Conv2D, MaxPool2D."""
    strides: int
    padding: str

    def _pads(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]: ...


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding so that the output has ceil(size / stride) positions."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_positions(layer: Windowed, what: str, window: tuple[int, int], height: int, width: int) -> tuple[int, int]:
    """(out_h, out_w): how many of ``layer``'s windows fit in its padded input, a ValueError if
    none does (an empty output would build, train and predict one class for everything)."""
    (top, bottom), (left, right) = layer._pads(height, width)
    kh, kw = window
    out_h = (height + top + bottom - kh) // layer.strides + 1
    out_w = (width + left + right - kw) // layer.strides + 1
    if out_h < 1 or out_w < 1:
        same = " or padding='same'" if layer.padding == "valid" else ""
        raise ValueError(f"{type(layer).__name__} {what} {kh}x{kw} is larger than its {height}x{width} input: "
                         f"use a smaller {what} (at most {height}x{width}){same}")
    return out_h, out_w
