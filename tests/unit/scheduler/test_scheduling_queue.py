"""The scheduling queue's rules (kube-scheduler's PriorityQueue for single pods), on a fake clock."""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional

import pytest

from kcore.scheduler.scheduling_queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_UPDATE,
    QueuedPod,
    SchedulingQueue,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.25

    def __call__(self) -> float:
        return self.now


def pod(name: str, priority: Optional[int] = None, **spec: Any) -> Dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {**({"priority": priority} if priority is not None else {}), **spec},
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock)


def popped(queue: SchedulingQueue) -> QueuedPod:
    info = queue.pop(timeout=0)
    assert info is not None
    return info


def names(queue: SchedulingQueue) -> list[str]:
    out = []
    while (info := queue.pop(timeout=0)) is not None:
        out.append(info.pod["metadata"]["name"])
    return out


def test_higher_priority_pops_first_and_equal_priorities_in_the_order_added(
    queue: SchedulingQueue, clock: Clock
) -> None:
    for name, priority in (("low", 0), ("high", 100), ("none", None), ("mid", 50), ("high-later", 100)):
        queue.add(pod(name, priority))
        clock.now += 0.001
    assert names(queue) == ["high", "high-later", "mid", "low", "none"]


def test_each_pop_is_a_new_scheduling_cycle_and_an_attempt(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    info = popped(queue)
    assert (queue.scheduling_cycle, info.attempts, queue.place_of(info.pod)) == (1, 1, "in_flight")


def test_the_backoff_doubles_from_one_second_to_ten_and_ends_on_a_whole_second(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    expiries = []
    for _ in range(6):
        info = popped(queue)
        queue.requeue(info, None)  # an error: straight to backoff
        assert queue.place_of(info.pod) == "backoff"
        expiries.append(queue.backoff_expiry(info) - clock.now)
        clock.now = queue.backoff_expiry(info)
    # From 1000.25: 1 s → 1001.25 truncated to 1001 (0.75 s away), then 2, 4, 8, 10, 10 s.
    assert expiries == [0.75, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_pod_backing_off_moves_to_active_when_its_backoff_ends(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    queue.requeue(popped(queue), None)
    queue.add(pod("b"))
    assert popped(queue).pod["metadata"]["name"] == "b"  # a still backs off; the active queue comes first
    assert queue.pending() == {"active": 0, "backoff": 1, "unschedulable": 0, "gated": 0}
    clock.now += 0.5
    queue.add(pod("c"))  # added after a's attempt: a goes first once its backoff is over
    clock.now += 0.5
    assert queue.pending() == {"active": 2, "backoff": 0, "unschedulable": 0, "gated": 0}
    assert names(queue) == ["a", "c"]


def test_with_nothing_active_pop_takes_a_pod_still_backing_off(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.requeue(popped(queue), None)
    assert names(queue) == ["a"]


def test_a_rejected_pod_waits_for_an_event_its_plugins_care_about(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    queue.requeue(popped(queue), {"NodeResourcesFit"})
    assert queue.place_of(pod("a")) == "unschedulable"
    queue.move_on(ASSIGNED_POD_ADD)  # another pod taking room cannot make room
    assert queue.place_of(pod("a")) == "unschedulable"
    assert queue.pop(timeout=0) is None
    queue.move_on(ASSIGNED_POD_DELETE)
    assert queue.place_of(pod("a")) == "backoff"  # 1 s from its attempt
    clock.now += 1
    assert names(queue) == ["a"]


def test_a_rejection_by_prefilter_or_an_unknown_plugin_takes_every_event(queue: SchedulingQueue) -> None:
    for name, rejectors in (("prefilter", {""}), ("custom", {"MyPlugin"})):
        queue.add(pod(name))
        queue.requeue(popped(queue), rejectors)
    queue.move_on(ASSIGNED_POD_ADD)
    assert queue.pending()["unschedulable"] == 0


def test_an_event_during_the_attempt_sends_the_pod_to_backoff_not_to_wait(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    info = popped(queue)
    queue.move_on(NODE_ADD)  # a node came while the pod was being tried
    queue.requeue(info, {"NodeAffinity"})
    assert queue.place_of(pod("a")) == "backoff"
    queue.add(pod("b"))
    info = popped(queue)
    queue.move_on(ASSIGNED_POD_ADD)  # of no interest to NodeAffinity
    queue.requeue(info, {"NodeAffinity"})
    assert queue.place_of(pod("b")) == "unschedulable"


def test_an_unschedulable_pod_is_retried_after_five_minutes_without_events(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    queue.requeue(popped(queue), {"TaintToleration"})
    clock.now += 300
    assert queue.place_of(pod("a")) == "unschedulable"
    clock.now += 0.01
    assert names(queue) == ["a"]


def test_a_change_to_a_waiting_pods_spec_or_labels_requeues_it_and_a_status_change_does_not(
    queue: SchedulingQueue,
) -> None:
    queue.add(pod("a"))
    queue.requeue(popped(queue), {"TaintToleration"})
    queue.update({**pod("a"), "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}})
    assert queue.place_of(pod("a")) == "unschedulable"
    queue.update(pod("a", tolerations=[{"operator": "Exists"}]))
    assert queue.place_of(pod("a")) == "backoff"


def test_a_deleted_pod_leaves_every_queue_and_its_attempt_is_not_requeued(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.add(pod("b"))
    queue.delete(pod("a"))
    info = popped(queue)
    assert info.pod["metadata"]["name"] == "b"
    queue.delete(pod("b"))
    queue.requeue(info, None)
    assert queue.pending() == {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
    assert queue.place_of(pod("b")) is None


def test_a_pod_done_with_leaves_the_queue(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    queue.done(popped(queue))
    assert queue.place_of(pod("a")) is None


def test_pop_waits_for_a_pod_and_close_wakes_it_empty_handed(queue: SchedulingQueue) -> None:
    assert queue.pop(timeout=0.01) is None
    got: list[Optional[QueuedPod]] = []
    waiter = threading.Thread(target=lambda: got.append(queue.pop()))
    waiter.start()
    queue.add(pod("a"))
    waiter.join(5)
    assert got and got[0] is not None and got[0].pod["metadata"]["name"] == "a"
    waiter = threading.Thread(target=lambda: got.append(queue.pop()))
    waiter.start()
    queue.close()
    waiter.join(5)
    assert not waiter.is_alive() and got[1] is None


def test_node_updates_requeue_pods_rejected_for_taints_and_not_those_rejected_for_ports(queue: SchedulingQueue) -> None:
    for name, rejectors in (("tainted", {"TaintToleration"}), ("ports", {"NodePorts"})):
        queue.add(pod(name))
        queue.requeue(popped(queue), rejectors)
    queue.move_on(NODE_UPDATE)
    assert (queue.place_of(pod("tainted")), queue.place_of(pod("ports"))) == ("backoff", "unschedulable")


def test_a_gated_pod_is_never_tried_until_its_last_gate_is_removed(queue: SchedulingQueue) -> None:
    queue.add(pod("gated", schedulingGates=[{"name": "a"}, {"name": "b"}]))
    assert queue.pop(timeout=0) is None
    assert queue.pending()["gated"] == 1
    queue.move_on(NODE_ADD)  # cluster events do not release it
    queue.update(pod("gated", schedulingGates=[{"name": "b"}]))
    assert queue.place_of(pod("gated")) == "gated"
    queue.update(pod("gated"))
    assert names(queue) == ["gated"]
