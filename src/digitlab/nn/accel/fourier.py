"""Convolution through the discrete Fourier transform: Conv2D's arithmetic, with fewer multiplications.

Conv2D's im2col (im2col.py) multiplies every window of the image by the kernel: kh*kw*C*O
multiply-adds for each output pixel, C channels in and O filters out. In frequency space a
convolution is a product instead, one at each frequency: transform the image and the kernel,
multiply, transform back. The mixing of C channels into O filters then costs C*O complex products a
frequency, whatever the kernel's size, and the transforms a few dozen multiply-adds a pixel per
channel. For the cnn recipe's second convolution (5x5, 32 channels to 64, 14x14 images) that is a
quarter of im2col's arithmetic. Conv2D takes this way where it does much less work (``pays``).

**Circular.** The DFT of a P x Q grid convolves circularly: what leaves one edge comes back in at the
other. So the image sits at the grid's corner with empty rows and columns after it, enough that
nothing an output reads wraps round onto image pixels: P >= H + max(top, bottom) for "same"
padding's top and bottom rows (P = H for "valid"), and the same for the width. The padding itself is
never written: it is the grid's empty part (a negative position is the grid's far end).

**The three products.** With the kernel's tap (i, j) at grid position g(i - top, j - left), an output
pixel is y(r) = sum_d x(r + d) g(d), a cross-correlation (d runs over tap positions, r over
output pixels, in two dimensions). At each frequency k, with capitals for transforms:

    forward    Y(k)  = X(k) conj(G(k))                y = sum_d x(r + d) g(d)
    dx         DX(k) = DY(k) G(k)                      dx(q) = sum_r dy(r) g(q - r)
    dkernel    DG(k) = sum over images X(k) conj(DY(k))     dg(d) = sum_r x(r + d) dy(r)

each read back from its transform only where it is needed: output pixels, input pixels, taps.

**Matrix products, not FFTs.** On a 16 x 16 grid a DFT is a small matrix, and a matrix product runs
near the CPU's peak, where numpy.fft pays a fixed cost per short transform (25,600 rows of 16 on one
core: 4.0 ms by numpy.fft.rfft, 0.25 ms as one product). The 2-D transform is two 1-D ones, along
the width and then along the height, each one product over every image and channel at once.

**Real values.** A real image's spectrum is symmetric, X(-k) = conj X(k), so along the width only
Q//2 + 1 frequencies are kept (as numpy.fft.rfft2 does); the inverse counts each one it dropped
through its twin. Complex numbers are pairs of real rows (real part, imaginary part): the
products stay float32 matrix products, and at each frequency a batch's real rows stacked over its
imaginary rows, (2n, C), make the mixing one product for the real and one for the imaginary part
of the other factor.

Layouts: values go in and come out as (width, height, images x channels), spectra are
(Q//2 + 1, P, 2, images x channels): width frequency, height frequency, real/imaginary.
"""

import numpy as np

from digitlab.nn.accel import threads

# The most bytes of partial products made at once (about a core's L2 cache here).
BLOCK_BYTES = 1 << 20


def pays(image_size, kernel_size, pads, channels, filters):
    """Whether a stride-1 convolution of these shapes does much less arithmetic (under half) by the DFT."""
    grid = _grid(image_size, pads)
    output_size = _output_size(image_size, kernel_size, pads)
    by_windows = np.prod(output_size) * np.prod(kernel_size) * channels * filters
    frequencies = (grid[1] // 2 + 1) * grid[0]
    by_transform = (channels * _transform_work(image_size, grid) + filters * _transform_work(output_size, grid)
                    + 4 * frequencies * channels * filters)
    return by_transform < by_windows / 2


class FourierConvolution:
    """Conv2D by the DFT for one image size, kernel size and padding (stride 1): the transform
    matrices are made once, in one dtype, and used at every step. ``forward`` returns the images'
    and the kernel's spectra, which ``backward`` takes: the object itself keeps nothing of a batch,
    so layers of the same shapes (and threads running one layer on several batches) share it."""

    def __init__(self, image_size, kernel_size, pads, dtype):
        height, width = image_size
        (top, _), (left, _) = pads
        out_height, out_width = _output_size(image_size, kernel_size, pads)
        self.grid = rows, columns = _grid(image_size, pads)
        self.kernel_size = tuple(kernel_size)
        self.frequencies = (columns // 2 + 1) * rows

        def transforms(heights, widths):
            return _real_transform(widths, columns).astype(dtype), _complex_transform(heights, rows).astype(dtype)

        def inverses(heights, widths):
            return (_complex_inverse(heights, rows).astype(dtype),
                    (_real_inverse(widths, columns) / (rows * columns)).astype(dtype))

        image, output = (np.arange(height), np.arange(width)), (np.arange(out_height), np.arange(out_width))
        taps = (np.arange(kernel_size[0]) - top, np.arange(kernel_size[1]) - left)
        self.image, self.image_inverse = transforms(*image), inverses(*image)
        self.output, self.output_inverse = transforms(*output), inverses(*output)
        self.taps, self.taps_inverse = transforms(*taps), inverses(*taps)

    def forward(self, x, kernel, out, bias=None):
        """Write the convolution of x (n, C, H, W) with kernel (O, C, kh, kw), plus bias (O,), to
        out (n, oh, ow, O); return (the images' spectra, the kernel's spectrum) for ``backward``."""
        n, channels = x.shape[:2]
        filters = kernel.shape[0]
        images = _spectrum(_width_first(x), self.image).reshape(self.frequencies, 2 * n, channels)
        taps = kernel.transpose(3, 2, 1, 0).reshape(*self.kernel_size[::-1], channels * filters)
        kernel_spectrum = _spectrum(taps, self.taps).reshape(-1, 2, channels, filters)
        products = _products(images, kernel_spectrum[:, 0], kernel_spectrum[:, 1], conjugate=True)
        _copy_to_channels_last(_values(self._by_width(products), self.output_inverse), n, filters, out, bias)
        return images, kernel_spectrum

    def backward(self, dy, images, kernel_spectrum, dx_out=None):
        """dkernel (O, C, kh, kw) for dy (n, O, oh, ow), summed over the batch, from the spectra
        ``forward`` returned; and, given ``dx_out`` (n, H, W, C), dx written to it."""
        n, filters = dy.shape[:2]
        channels = images.shape[-1]
        gradients = _spectrum(_width_first(dy), self.output).reshape(self.frequencies, 2 * n, filters)
        if dx_out is not None:
            kernel = kernel_spectrum.transpose(0, 1, 3, 2)  # (frequencies, part, O, C)
            products = _products(gradients, kernel[:, 0], kernel[:, 1], conjugate=False)
            _copy_to_channels_last(_values(self._by_width(products), self.image_inverse), n, channels, dx_out)
        correlation = _correlation(images, gradients)
        taps = _values(self._by_width(correlation), self.taps_inverse)
        return taps.reshape(*self.kernel_size[::-1], channels, filters).transpose(3, 2, 1, 0)

    def _by_width(self, spectrum):
        """(frequencies, ...) as (width frequencies, 2 P, the rest): the layout ``_values`` reads."""
        rows, columns = self.grid
        return spectrum.reshape(columns // 2 + 1, 2 * rows, spectrum.size // (self.frequencies * 2))


def _grid(image_size, pads):
    """The DFT grid: the image and enough empty rows and columns after it that nothing wraps."""
    (top, bottom), (left, right) = pads
    return image_size[0] + max(top, bottom), image_size[1] + max(left, right)


def _output_size(image_size, kernel_size, pads):
    (top, bottom), (left, right) = pads
    return (image_size[0] + top + bottom - kernel_size[0] + 1, image_size[1] + left + right - kernel_size[1] + 1)


def _transform_work(size, grid):
    """Multiply-adds to transform one (height, width) plane to or from the grid's half spectrum."""
    height, width = size
    half = grid[1] // 2 + 1
    return 2 * half * width * height + 4 * half * grid[0] * height


# The 1-D transform matrices. Positions may be negative (the grid's far end); rows and columns
# of (real, imaginary) pairs are ordered (position or frequency, part) as the layouts above.

def _angles(frequencies, positions, size):
    return 2 * np.pi * np.outer(frequencies, positions) / size


def _real_transform(positions, size):
    """(2 (size//2 + 1), len(positions)): real values to the half spectrum, e^(-i angle) x."""
    angle = _angles(np.arange(size // 2 + 1), positions, size)
    return np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(-1, len(positions))


def _complex_transform(positions, size):
    """(2 size, 2 len(positions)): complex values, rows (part, position), to their spectrum, rows
    (frequency, part): e^(-i a) (re + i im) = (re cos a + im sin a) + i (im cos a - re sin a)."""
    angle = _angles(np.arange(size), positions, size)
    cos, sin = np.cos(angle), np.sin(angle)
    by_part = np.stack([np.hstack([cos, sin]), np.hstack([-sin, cos])], axis=1)
    return by_part.reshape(2 * size, 2 * len(positions))


def _complex_inverse(positions, size):
    """(2 len(positions), 2 size): a spectrum, rows (frequency, part), back to complex values at
    ``positions``, rows (part, position), without the 1/size: e^(i a) (re + i im)."""
    angle = _angles(positions, np.arange(size), size)
    cos, sin = np.cos(angle), np.sin(angle)
    by_part = np.stack([np.stack([cos, -sin], axis=2), np.stack([sin, cos], axis=2)])
    return by_part.reshape(2 * len(positions), 2 * size)


def _real_inverse(positions, size):
    """(len(positions), 2 (size//2 + 1)): a half spectrum back to real values at ``positions``,
    Re(e^(i a) (re + i im)) = re cos a - im sin a, each kept frequency counted for its dropped twin
    too (all but frequency 0 and, for an even size, size/2), without the 1/size."""
    frequencies = np.arange(size // 2 + 1)
    twins = np.where((frequencies == 0) | (2 * frequencies == size), 1.0, 2.0)
    angle = _angles(positions, frequencies, size)
    return np.stack([twins * np.cos(angle), -twins * np.sin(angle)], axis=2).reshape(len(positions), -1)


def _width_first(images):
    """(n, C, H, W) images as (W, H, n*C), the layout the transforms read."""
    n, channels, height, width = images.shape
    values = np.empty_like(images, shape=(width, height, n, channels), order="C")
    threads.over_rows(lambda columns: np.copyto(values[columns], images[..., columns].transpose(3, 2, 0, 1)), values)
    return values.reshape(width, height, n * channels)


def _copy_to_channels_last(values, n, channels, out, bias=None):
    """(W, H, n*C) values into out, (n, H, W, C), plus bias (C,) if given."""
    width, height = values.shape[:2]
    images = values.reshape(width, height, n, channels).transpose(2, 1, 0, 3)
    if bias is None:
        threads.over_rows(lambda some: np.copyto(out[some], images[some]), out)
    else:
        threads.over_rows(lambda some: np.add(images[some], bias, out=out[some]), out)


def _spectrum(values, transforms):
    """The half spectrum (Q//2 + 1, 2 P, m) of values (width, height, m): along the width, then
    along the height for each width frequency."""
    along_width, along_height = transforms
    width, height, m = values.shape
    half = threads.matmul(along_width, values.reshape(width, height * m)).reshape(len(along_width) // 2, 2 * height, m)
    spectrum = np.empty_like(half, shape=(len(half), len(along_height), m))
    threads.over_rows(lambda rows: np.matmul(along_height, half[rows], out=spectrum[rows]), spectrum,
                       ns_per_row=threads.product_ns(*along_height.T.shape) * m)
    return spectrum


def _values(spectrum, inverses):
    """Values (width, height, m) back from a half spectrum (Q//2 + 1, 2 P, m): along the height
    for each width frequency, then along the width."""
    along_height, along_width = inverses
    half, _, m = spectrum.shape
    columns = np.empty_like(spectrum, shape=(half, len(along_height), m))
    threads.over_rows(lambda rows: np.matmul(along_height, spectrum[rows], out=columns[rows]), columns,
                       ns_per_row=threads.product_ns(*along_height.T.shape) * m)
    values = threads.matmul(along_width, columns.reshape(2 * half, -1))
    return values.reshape(len(along_width), len(along_height) // 2, m)


def _products(stacked, real, imaginary, conjugate):
    """At every frequency, A @ B (or A @ conj(B)), with A's parts stacked [A_re; A_im] (2n, C) and
    B = real + i imaginary (C, O): the result's parts stacked the same way, (frequencies, 2n, O)."""
    frequencies, rows, _ = stacked.shape
    n = rows // 2
    out = np.empty_like(stacked, shape=(frequencies, rows, real.shape[-1]))

    def products(some):
        by_real = np.matmul(stacked[some], real[some])            # [A_re B_re; A_im B_re]
        by_imaginary = np.matmul(stacked[some], imaginary[some])  # [A_re B_im; A_im B_im]
        if conjugate:  # (A_re B_re + A_im B_im) + i (A_im B_re - A_re B_im)
            np.add(by_real[:, :n], by_imaginary[:, n:], out=out[some, :n])
            np.subtract(by_real[:, n:], by_imaginary[:, :n], out=out[some, n:])
        else:          # (A_re B_re - A_im B_im) + i (A_re B_im + A_im B_re)
            np.subtract(by_real[:, :n], by_imaginary[:, n:], out=out[some, :n])
            np.add(by_imaginary[:, :n], by_real[:, n:], out=out[some, n:])

    # A few frequencies at a time: the two partial products stay in the cache until they are
    # combined, and a large batch's never take memory all at once.
    per_block = max(1, BLOCK_BYTES // max(2 * out[0].nbytes, 1))

    def part(some):
        for start in range(some.start, some.stop, per_block):
            products(slice(start, min(start + per_block, some.stop)))

    threads.over_rows(part, out, ns_per_row=2 * rows * threads.product_ns(*real.shape[1:]))
    return out


def _correlation(stacked_a, stacked_b):
    """At every frequency, A^T conj(B) summed over the images, for A (n, C) and B (n, O) with their
    parts stacked as rows: (frequencies, 2, C, O), real part then imaginary part.
    Real: A_re^T B_re + A_im^T B_im = [A_re; A_im]^T [B_re; B_im];
    imaginary: A_im^T B_re - A_re^T B_im = [A_re; A_im]^T [-B_im; B_re]."""
    frequencies, rows, channels = stacked_a.shape
    n = rows // 2
    out = np.empty_like(stacked_a, shape=(frequencies, 2, channels, stacked_b.shape[-1]))

    def part(some):
        transposed = stacked_a[some].transpose(0, 2, 1)
        np.matmul(transposed, stacked_b[some], out=out[some, 0])
        turned = np.empty_like(stacked_b[some])
        np.negative(stacked_b[some, n:], out=turned[:, :n])
        turned[:, n:] = stacked_b[some, :n]
        np.matmul(transposed, turned, out=out[some, 1])

    threads.over_rows(part, out, ns_per_row=2 * channels * threads.product_ns(rows, stacked_b.shape[-1]))
    return out
