"""What convolution and pooling share: where a window of a given size fits in an image."""


def same_padding(size, kernel, stride):
    """(before, after) padding so that the output has ceil(size / stride) positions."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def window_positions(layer, what, window, height, width):
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


def window_offsets(kernel_h, kernel_w, stride, out_h, out_w):
    """For each kernel offset (i, j): the slices of the padded input that it meets, one per output."""
    for i in range(kernel_h):
        for j in range(kernel_w):
            yield i, j, slice(i, i + stride * out_h, stride), slice(j, j + stride * out_w, stride)
