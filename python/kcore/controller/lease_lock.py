"""The leader election record and how it is kept in a coordination.k8s.io/v1 Lease, as client-go's
resourcelock.LeaseLock writes it (LeaderElectionRecordToLeaseSpec / LeaseSpecToLeaderElectionRecord).

Written so that a client-go candidate and a kcore candidate can share one Lease: every field of
the spec is written each time (holderIdentity even when "", leaseDurationSeconds in whole
seconds, acquireTime and renewTime as MicroTime — RFC 3339 in UTC with six fractional digits —
and leaseTransitions); strategy and preferredHolder only when set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from kcore.clients.builtin_apis import CoordinationV1
from kcore.clients.resource import ResourceInfo

LEASES: ResourceInfo = CoordinationV1.leases.info


def format_micro_time(moment: datetime) -> str:
    """A metav1.MicroTime as the API machinery writes it: ``2026-12-02T00:38:15.123456Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Optional[str]) -> Optional[datetime]:
    """A metav1.Time or MicroTime (RFC 3339, any precision) as an aware datetime; None for none."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _seconds(moment: Optional[datetime]) -> Optional[str]:
    """The time as client-go's record bytes hold it (metav1.Time: RFC 3339, whole seconds)."""
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LeaderElectionRecord:
    """Who holds the lease, for how long, since when: client-go's resourcelock.LeaderElectionRecord."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: Optional[datetime] = None
    renew_time: Optional[datetime] = None
    leader_transitions: int = 0
    strategy: str = ""
    preferred_holder: str = ""

    def observed_bytes(self) -> tuple[Any, ...]:
        """What client-go compares to tell that the record changed: the JSON of the record, whose
        times (metav1.Time) keep whole seconds only. Two renewals within one second look alike."""
        return (
            self.holder_identity,
            self.lease_duration_seconds,
            _seconds(self.acquire_time),
            _seconds(self.renew_time),
            self.leader_transitions,
            self.strategy,
            self.preferred_holder,
        )

    @classmethod
    def from_lease(cls, lease: Mapping[str, Any]) -> "LeaderElectionRecord":
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
            strategy=spec.get("strategy") or "",
            preferred_holder=spec.get("preferredHolder") or "",
        )

    def lease_spec(self) -> dict[str, Any]:
        """The Lease spec client-go writes for this record (a time never set is null, as Go's
        zero MicroTime is written; records a candidate writes always have both)."""
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": format_micro_time(self.acquire_time) if self.acquire_time else None,
            "renewTime": format_micro_time(self.renew_time) if self.renew_time else None,
            "leaseTransitions": self.leader_transitions,
        }
        if self.preferred_holder:
            spec["preferredHolder"] = self.preferred_holder
        if self.strategy:
            spec["strategy"] = self.strategy
        return spec


def new_lease(namespace: str, name: str, record: LeaderElectionRecord) -> dict[str, Any]:
    """The Lease a first candidate creates."""
    return {
        "apiVersion": LEASES.api_version,
        "kind": LEASES.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": record.lease_spec(),
    }


def updated_lease(lease: Mapping[str, Any], record: LeaderElectionRecord) -> dict[str, Any]:
    """The last Lease read or written with its spec replaced by ``record``'s: an update that
    the server refuses (Conflict) if someone wrote the Lease since."""
    plain = lease.to_dict() if hasattr(lease, "to_dict") else copy.deepcopy(dict(lease))
    return {**plain, "apiVersion": LEASES.api_version, "kind": LEASES.kind, "spec": record.lease_spec()}
