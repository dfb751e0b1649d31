"""paperpost: research-paper alerts matched to each subscriber's interests."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paperpost")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
