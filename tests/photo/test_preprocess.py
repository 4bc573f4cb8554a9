"""digitlab.photo.preprocess: any picture of a digit -> 28x28 in MNIST's convention."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.data import load_data
from digitlab.errors import ImageError, NoDigitError
from digitlab.photo.components import connected_components
from digitlab.photo.images import read_grey
from digitlab.photo.preprocess import BOX, CENTRE, find_ink, fit_digit, otsu, preprocess, split_digits, stroke_width


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = load_data()
    return x_test, y_test


def on_paper(digit, scale=6, canvas=(260, 220), at=(30, 20), dark_ink=True):
    """An MNIST digit enlarged ``scale`` times on a plain sheet: an 'L' picture."""
    size = 28 * scale
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR), np.float32)
    page = np.zeros((canvas[1], canvas[0]), np.float32)
    page[at[1]:at[1] + size, at[0]:at[0] + size] = ink
    page = 255 - page if dark_ink else page
    return Image.fromarray(page.astype(np.uint8), "L")


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def centre_of_mass(image):
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    total = image.sum()
    return image.sum(axis=1) @ rows / total, image.sum(axis=0) @ cols / total


def encode(picture, fmt, **options):
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- the convention


def test_an_mnist_digit_comes_back_nearly_as_it_was(mnist_test):
    x_test, _ = mnist_test
    for digit in x_test[:20]:
        out = preprocess(digit)
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert correlation(out, digit) > 0.85


def test_the_output_follows_mnists_convention(mnist_test):
    x_test, _ = mnist_test
    out = preprocess(on_paper(x_test[0], canvas=(400, 300), at=(200, 100)))
    assert out.min() == 0.0 and out.max() == 1.0
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (BOX, BOX + 1)
    mass_row, mass_col = centre_of_mass(out)
    assert abs(mass_row - CENTRE) <= 0.6 and abs(mass_col - CENTRE) <= 0.6
    assert out[0].sum() == out[-1].sum() == out[:, 0].sum() == out[:, -1].sum() == 0


def test_grey_levels_are_kept_at_the_edges_of_strokes(mnist_test):
    out = preprocess(on_paper(mnist_test[0][3]))
    inner = out[(out > 0) & (out < 1)]
    assert inner.size > 0.3 * np.count_nonzero(out), "anti-aliased edges, not a binary image"


def test_dark_ink_on_paper_and_light_ink_on_black_give_the_same_digit(mnist_test):
    digit = mnist_test[0][7]
    dark = preprocess(on_paper(digit, dark_ink=True))
    light = preprocess(on_paper(digit, dark_ink=False))
    assert correlation(dark, light) > 0.97
    assert correlation(dark, preprocess(digit)) > 0.85


def test_uneven_lighting_noise_specks_and_a_table_edge(mnist_test):
    digit = mnist_test[0][11]
    clean = preprocess(on_paper(digit, canvas=(320, 260), at=(80, 50)))
    page = np.asarray(on_paper(digit, canvas=(320, 260), at=(80, 50)), np.float32) / 255
    rows, cols = np.mgrid[0:260, 0:320]
    light = 0.45 + 0.5 * cols / 320 - 0.15 * rows / 260          # strong light from the right
    photo = page * light + np.random.default_rng(0).normal(0, 0.02, page.shape)
    photo[10:13, 20:23] = 0.1                                    # a speck of dust
    photo[240:, :] = 0.05                                        # the table under the sheet
    out = preprocess(np.clip(photo, 0, 1).astype(np.float32))
    assert correlation(out, clean) > 0.9


def thin_seven(width=3):
    """A 7 drawn with a fine pen, big: strokes 1.5% of the digit's height (MNIST's are ~9%)."""
    picture = Image.new("L", (320, 320), 255)
    draw = ImageDraw.Draw(picture)
    draw.line([(70, 60), (250, 60), (130, 270)], fill=0, width=width, joint="curve")
    return picture


def test_a_box_drawn_around_the_digit_and_a_printed_border_are_left_out(mnist_test):
    digit = mnist_test[0][4]
    page = on_paper(digit, scale=6, canvas=(300, 260), at=(60, 40))
    clean = preprocess(page)
    draw = ImageDraw.Draw(page)
    draw.rectangle([30, 15, 270, 245], outline=0, width=3)          # the form's box
    draw.rectangle([2, 2, 297, 257], outline=60, width=2)           # the page's printed border
    assert correlation(preprocess(page), clean) > 0.95


@pytest.mark.parametrize("grid", [False, True])
def test_ruled_and_squared_paper(mnist_test, grid):
    digit = mnist_test[0][1]
    page = on_paper(digit, scale=6, canvas=(320, 280), at=(70, 50))
    clean = preprocess(page)
    lines = Image.new("L", page.size, 255)
    draw = ImageDraw.Draw(lines)
    for y in range(10, 280, 28):
        draw.line([(0, y), (320, y + 4)], fill=70, width=2)             # slightly askew, as photographed
    if grid:
        for x in range(10, 320, 28):
            draw.line([(x, 0), (x - 3, 280)], fill=70, width=2)
    ruled = (np.asarray(page, np.float32) * np.asarray(lines, np.float32) / 255).astype(np.uint8)
    assert correlation(preprocess(ruled), clean) > 0.9


def test_a_digit_cropped_tight_with_much_ink(mnist_test):
    """A drawing cropped to the digit: ink on a quarter of the picture or more."""
    x_test, _ = mnist_test
    for index in (5, 9, 12, 13):
        digit = x_test[index]
        rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
        tight = np.pad(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1)
        page = Image.fromarray(255 - tight).resize((tight.shape[1] * 10, tight.shape[0] * 10),
                                                   Image.Resampling.BILINEAR)
        assert (np.asarray(page) < 128).mean() > 0.2
        assert correlation(preprocess(page), preprocess(digit)) > 0.85


def test_a_thin_pen_is_thickened_toward_mnists_stroke_width():
    plain = preprocess(thin_seven(), thicken=False)
    thick = preprocess(thin_seven())
    assert thick.sum() > 1.5 * plain.sum()
    assert stroke_width(thick > 0.5) > 1.5 > stroke_width(plain > 0.5)
    assert correlation(thick, preprocess(thin_seven(width=14))) > 0.85


# ----------------------------------------------------------------------------- formats and modes


@pytest.mark.parametrize("fmt, options", [
    ("PNG", {}), ("JPEG", {"quality": 80}), ("BMP", {}), ("GIF", {}), ("TIFF", {}),
    ("TIFF", {"compression": "tiff_deflate"}), ("WEBP", {"quality": 80}),
])
def test_every_format(mnist_test, fmt, options, tmp_path):
    digit = mnist_test[0][2]
    reference = preprocess(on_paper(digit))
    path = tmp_path / f"digit.{fmt.lower()}"
    on_paper(digit).convert("RGB").save(path, fmt, **options)
    assert correlation(preprocess(path), reference) > 0.95
    assert correlation(preprocess(path.read_bytes()), reference) > 0.95
    with path.open("rb") as file:
        assert correlation(preprocess(file), reference) > 0.95


def _as_mode(picture, mode):
    if mode == "I;16":
        picture16 = Image.fromarray((np.asarray(picture, np.uint16) * 257).astype(np.uint16))
        assert picture16.mode == "I;16"
        return picture16
    if mode == "I":
        return Image.fromarray(np.asarray(picture, np.int32) * 257, "I")
    if mode == "F":
        return Image.fromarray(np.asarray(picture, np.float32) / 255, "F")
    if mode == "P":
        return picture.convert("RGB").quantize(16)
    return picture.convert(mode)


@pytest.mark.parametrize("mode, fmt", [
    ("L", "PNG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("P", "GIF"),
    ("1", "PNG"), ("I;16", "PNG"), ("I;16", "TIFF"), ("I", "TIFF"), ("F", "TIFF"), ("CMYK", "JPEG"),
])
def test_every_mode(mnist_test, mode, fmt):
    digit = mnist_test[0][4]
    reference = preprocess(on_paper(digit))
    data = encode(_as_mode(on_paper(digit), mode), fmt)
    assert correlation(preprocess(data), reference) > 0.9, (mode, fmt)


def test_sixteen_bit_keeps_its_levels():
    picture = Image.fromarray(np.full((20, 20), 65535, np.uint16))
    assert read_grey(encode(picture, "PNG")).min() == pytest.approx(1.0)


@pytest.mark.parametrize("transparent_rgb", [(0, 0, 0), (255, 255, 255)])
def test_a_transparent_background_counts_as_paper(mnist_test, transparent_rgb):
    digit = mnist_test[0][5]
    reference = preprocess(on_paper(digit))
    ink = np.asarray(on_paper(digit, dark_ink=False))             # ink strength 0..255
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., :3] = transparent_rgb
    rgba[..., 3] = ink                                          # dark strokes drawn on nothing
    rgba[ink > 0, :3] = 20
    assert correlation(preprocess(encode(Image.fromarray(rgba, "RGBA"), "PNG")), reference) > 0.9
    white = rgba.copy()
    white[ink > 0, :3] = 240                                    # light strokes drawn on nothing
    assert correlation(preprocess(encode(Image.fromarray(white, "RGBA"), "PNG")), reference) > 0.9


@pytest.mark.parametrize("orientation, undo", [(3, Image.Transpose.ROTATE_180),
                                               (6, Image.Transpose.ROTATE_90),
                                               (8, Image.Transpose.ROTATE_270)])
def test_exif_orientation_turns_the_picture_upright(mnist_test, orientation, undo):
    digit = mnist_test[0][0]
    upright = on_paper(digit).convert("RGB")
    stored = upright.transpose(undo)                 # what the camera stored before the tag turns it
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=90, exif=exif.tobytes())
    assert correlation(preprocess(data), preprocess(upright)) > 0.95
    assert correlation(preprocess(data), preprocess(stored)) < 0.8


def test_an_8x8_picture(mnist_test):
    small = Image.fromarray(mnist_test[0][1]).resize((8, 8), Image.Resampling.BOX)
    out = preprocess(encode(small, "PNG"))
    assert out.shape == (28, 28) and np.isfinite(out).all() and out.max() == 1.0


def test_an_8x8_grid_of_ink_counts_with_much_ink():
    """Like the UCI digits: 8x8, ink on 40% of the cells, in grey levels."""
    zero = np.array([[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0],
                     [0, 3, 15, 2, 0, 11, 8, 0], [0, 4, 12, 0, 0, 8, 8, 0],
                     [0, 5, 8, 0, 0, 9, 8, 0], [0, 4, 11, 0, 1, 12, 7, 0],
                     [0, 2, 14, 5, 10, 12, 0, 0], [0, 0, 6, 13, 10, 0, 0, 0]], np.float32) / 16
    out = preprocess(zero)
    assert out.max() == 1.0 and out[13:16, 13:16].mean() < 0.3          # a ring: empty middle
    assert out[14, :14].max() > 0.5 and out[14, 14:].max() > 0.5


def test_a_large_photo_is_shrunk_first(mnist_test):
    page = on_paper(mnist_test[0][6], scale=40, canvas=(3000, 2000), at=(900, 300))
    out = preprocess(encode(page, "JPEG", quality=85))
    assert correlation(out, preprocess(mnist_test[0][6])) > 0.85


def test_a_small_digit_in_a_12_megapixel_photo(mnist_test):
    page = on_paper(mnist_test[0][9], scale=6, canvas=(4000, 3000), at=(1800, 1300))
    out = preprocess(encode(page, "JPEG", quality=85))
    assert correlation(out, preprocess(mnist_test[0][9])) > 0.85


def test_faint_pencil(mnist_test):
    page = np.asarray(on_paper(mnist_test[0][8]), np.float32) / 255
    faint = 0.85 - 0.1 * (1 - page) + np.random.default_rng(0).normal(0, 0.01, page.shape)
    assert correlation(preprocess(np.clip(faint, 0, 1)), preprocess(mnist_test[0][8])) > 0.85


# ----------------------------------------------------------------------------- bad input


def test_a_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        preprocess(tmp_path / "nothing.png")


def test_a_folder(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        preprocess(tmp_path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture at all")
    with pytest.raises(ImageError, match="not an image"):
        preprocess(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_truncated_file(mnist_test, fmt):
    data = encode(on_paper(mnist_test[0][0]).convert("RGB"), fmt)
    with pytest.raises(ImageError, match="truncated"):
        preprocess(data[:len(data) // 2])


def _png_header_only(width, height):
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
            ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [9000, 50_000])
def test_a_decompression_bomb_is_refused_before_decoding(side):
    with pytest.raises(ImageError, match="pixels"):
        preprocess(_png_header_only(side, side))


def test_the_pixel_cap_can_be_lowered(mnist_test):
    data = encode(on_paper(mnist_test[0][0]), "PNG")
    with pytest.raises(ImageError, match="cap of 1,000 pixels"):
        preprocess(data, max_pixels=1000)


def test_too_small():
    with pytest.raises(ImageError, match="too small"):
        preprocess(encode(Image.new("L", (5, 30)), "PNG"))


@pytest.mark.parametrize("picture", [
    Image.new("L", (120, 90), 255),
    Image.new("RGB", (64, 64), (30, 90, 200)),
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)),
    Image.fromarray(np.clip(np.random.default_rng(1).normal(180, 4, (100, 100)), 0, 255).astype(np.uint8)),
    Image.fromarray(np.clip(np.random.default_rng(2).normal(200, 10, (300, 400)), 0, 255).astype(np.uint8)),
])
def test_a_picture_without_ink_has_no_digit(picture):
    with pytest.raises(NoDigitError, match="no digit found"):
        preprocess(encode(picture, "PNG"))


# ----------------------------------------------------------------------------- pieces


def _brute_force_labels(mask):
    height, width = mask.shape
    labels, count = np.zeros(mask.shape, int), 0
    for row in range(height):
        for col in range(width):
            if mask[row, col] and not labels[row, col]:
                count += 1
                stack, labels[row, col] = [(row, col)], count
                while stack:
                    y, x = stack.pop()
                    for yy in range(max(y - 1, 0), min(y + 2, height)):
                        for xx in range(max(x - 1, 0), min(x + 2, width)):
                            if mask[yy, xx] and not labels[yy, xx]:
                                labels[yy, xx] = count
                                stack.append((yy, xx))
    return labels, count


def test_connected_components_match_a_flood_fill():
    rng = np.random.default_rng(3)
    for _ in range(60):
        mask = rng.random((rng.integers(1, 25), rng.integers(1, 25))) < rng.uniform(0.1, 0.7)
        pieces = connected_components(mask)
        labels, count = _brute_force_labels(mask)
        assert pieces.count == count
        pairs = {(a, b) for a, b in zip(pieces.labels.ravel(), labels.ravel(), strict=True) if b}
        assert len(pairs) == count                       # the same partition, numbered differently
        for index in range(count):
            rows, cols = np.nonzero(pieces.labels == index + 1)
            assert pieces.area[index] == len(rows)
            assert (pieces.top[index], pieces.bottom[index]) == (rows.min(), rows.max())
            assert (pieces.left[index], pieces.right[index]) == (cols.min(), cols.max())


def test_otsu_splits_two_levels():
    values = np.concatenate([np.full(900, 0.1), np.full(100, 0.8)])
    assert 0.1 < otsu(values) <= 0.8


def test_find_ink_tells_which_way_round_the_ink_is(mnist_test):
    digit = mnist_test[0][9]
    assert find_ink(np.asarray(on_paper(digit), np.float32) / 255).dark_ink
    assert not find_ink(np.asarray(on_paper(digit, dark_ink=False), np.float32) / 255).dark_ink


def test_fit_digit_centres_any_crop():
    bar = np.zeros((90, 12), np.float32)
    bar[:, 4:8] = 1
    out = fit_digit(bar)
    assert out.shape == (28, 28) and np.count_nonzero(out.any(axis=1)) in (BOX, BOX + 1)


def _row_of_digits(digits, gap=40, scale=5):
    size = 28 * scale
    page = np.zeros((size + 60, 40 + (len(digits) - 1) * (size + gap) + size), np.float32)
    for index, digit in enumerate(digits):
        big = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
        left = 20 + index * (size + gap)
        page[30:30 + size, left:left + size] = np.maximum(page[30:30 + size, left:left + size], big)
    return (255 - page).astype(np.uint8)


def test_split_digits_reads_left_to_right(mnist_test):
    x_test, _ = mnist_test
    digits = split_digits(_row_of_digits(x_test[[3, 2, 1, 0]]))
    assert len(digits) == 4
    lefts = [box[2] for _, box in digits]
    assert lefts == sorted(lefts)
    for (image, _), digit in zip(digits, x_test[[3, 2, 1, 0]], strict=True):
        assert correlation(image, preprocess(digit)) > 0.85


def test_split_digits_cuts_digits_written_touching(mnist_test):
    x_test, _ = mnist_test
    indices = [1, 3, 2]                                    # 2, 0, 1 written close together
    page = _row_of_digits(x_test[indices], gap=-60)
    assert connected_components(page < 128).count < 3                 # some of them touch
    digits = split_digits(page)
    assert len(digits) == 3
    for (image, _), index in zip(digits, indices, strict=True):
        assert correlation(image, preprocess(x_test[index])) > 0.7


def test_split_digits_keeps_the_pieces_of_one_digit_together(mnist_test):
    x_test, y_test = mnist_test
    five = x_test[np.flatnonzero(y_test == 5)[0]].copy()
    rows = np.flatnonzero(five.any(axis=1))
    five[rows[0] + 6:rows[0] + 8] = 0                    # the flag drawn as a stroke of its own
    seven = x_test[0]
    page = _row_of_digits(np.stack([five, seven]))
    assert connected_components(page < 128).count >= 3
    assert len(split_digits(page)) == 2
