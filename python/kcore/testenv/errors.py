"""The one error kcore.testenv raises: it always says what failed and what to do about it."""

from kcore.errors import KcoreError


class ControlPlaneError(KcoreError, RuntimeError):
    """The local control plane could not be built, started or reached."""
