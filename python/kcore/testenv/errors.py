"""The one error kcore.testenv raises: it always says what failed and what to do about it."""


class ControlPlaneError(RuntimeError):
    """The local control plane could not be built, started or reached."""
