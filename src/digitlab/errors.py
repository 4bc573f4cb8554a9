"""The errors digitlab raises for a user's mistake or a bad file.

Each carries a message that says what was wrong and what to do. The CLI prints the message on one
line and exits with status 1; anything else that escapes is a bug in digitlab.
"""


class DigitlabError(Exception):
    """Base class: a problem the user can fix, explained in the message."""


class DataError(DigitlabError):
    """A dataset file is missing, corrupt, truncated or fails its checksum."""


class ModelFileError(DigitlabError):
    """A model file is not a valid digitlab safetensors file."""


class ConfigError(DigitlabError, ValueError):
    """An unknown recipe, a bad hyper-parameter or an argument out of range (a ValueError too, as
    Python's own refusals of an argument are)."""


class ImageError(DigitlabError):
    """An image file that cannot be read: missing, not an image, truncated, or too large."""


class NoDigitError(ImageError):
    """An image that was read but holds no ink to recognise."""


class ExportError(DigitlabError):
    """A model that cannot be exported (an unsupported layer), or the export extra is missing."""
