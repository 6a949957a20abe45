"""What every sans-IO plan in kcore shares: a plan is a generator of commands that a sync or an
asyncio twin carries out (kcore.clients.watch, kcore.informer.reflector, the leader election and
the manager of kcore.controller), sending back each command's answer or throwing its error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Optional, TypeVar

C = TypeVar("C")


@dataclass(frozen=True)
class Sleep:
    """Wait; a stop cuts the wait short."""

    seconds: float


def advance(plan: Generator[C, Any, None], answer: Any, error: Optional[BaseException]) -> Optional[C]:
    """The plan's next command, given the last one's answer or error; None once it has ended."""
    try:
        return plan.throw(error) if error is not None else plan.send(answer)
    except StopIteration:
        return None
