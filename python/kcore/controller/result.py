"""What a reconcile tells the controller: ``Result`` (come back later) and ``TerminalError``
(failed, and retrying will not help) — controller-runtime's reconcile.Result and
reconcile.TerminalError."""

from __future__ import annotations

from dataclasses import dataclass

from kcore.errors import KcoreError


@dataclass(frozen=True)
class Result:
    """Returned by a reconcile that wants its key reconciled again although it succeeded.

    - ``requeue_after > 0``: the key's failures are forgotten and it comes back after that many
      seconds (sooner if an event adds it meanwhile).
    - ``requeue=True`` (and no ``requeue_after``): it comes back after the rate limiter's delay,
      as after a failure but without counting an error (controller-runtime deprecates it;
      prefer ``requeue_after``).

    ``None`` or ``Result()`` means done: the key's failures are forgotten.
    """

    requeue_after: float = 0.0
    requeue: bool = False

    def __post_init__(self) -> None:
        if self.requeue_after < 0:
            raise ValueError(f"requeue_after must not be negative, not {self.requeue_after}")


class TerminalError(KcoreError):
    """Raise it from a reconcile that failed in a way retrying cannot fix (an invalid spec): it
    is logged and counted as an error, and the key is not requeued (an event still brings it
    back). ``raise TerminalError("why") from cause`` keeps the cause in the log."""


__all__ = ["Result", "TerminalError"]
