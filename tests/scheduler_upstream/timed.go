package main

// The timed mode, for bench/scheduler.py: a case with "pending" pods builds its snapshot and
// framework once, then filters and scores each pending pod "repeats" times as kube-scheduler's
// scheduling cycle does (schedule_one.go's findNodesThatFitPod and prioritizeNodes), timing each
// run inside Go. It answers
//
//	{"buildSeconds": snapshot and framework, "pods": [{"name": n, "seconds": [one per repeat],
//	  "feasible": [node, sorted], "total": {node: weighted sum}}]}
//
// Unlike kube-scheduler it checks every node (percentageOfNodesToScore 100: no stop after
// enough feasible nodes) and scores even a single feasible node, as kcore's Framework.score does;
// extenders, nominated pods and the choice among the best are not part of the work timed.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/parallelize"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
)

type timedPod struct {
	Name     string           `json:"name"`
	Seconds  []float64        `json:"seconds"`
	Feasible []string         `json:"feasible"`
	Total    map[string]int64 `json:"total"`
}

type timing struct {
	BuildSeconds float64    `json:"buildSeconds"`
	Pods         []timedPod `json:"pods"`
}

func timed(c *schedulingCase) (*timing, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	f, snapshot, _, err := newFramework(ctx, c)
	if err != nil {
		return nil, err
	}
	all, err := snapshot.NodeInfos().List()
	if err != nil {
		return nil, err
	}
	out := &timing{BuildSeconds: time.Since(start).Seconds()}
	repeats := max(c.Repeats, 1)
	for _, pod := range c.Pending {
		p := timedPod{Name: pod.Name}
		var scores []fwk.NodePluginScores
		for range repeats {
			began := time.Now()
			scores, err = filterAndScore(ctx, f, pod, all)
			if err != nil {
				return nil, fmt.Errorf("pod %s: %w", pod.Name, err)
			}
			p.Seconds = append(p.Seconds, time.Since(began).Seconds())
		}
		p.Feasible = make([]string, 0, len(scores))
		p.Total = make(map[string]int64, len(scores))
		for _, s := range scores {
			p.Feasible = append(p.Feasible, s.Name)
			p.Total[s.Name] = s.TotalScore
		}
		sort.Strings(p.Feasible)
		out.Pods = append(out.Pods, p)
	}
	return out, nil
}

// filterAndScore is one scheduling cycle's PreFilter, Filter (every node, over the framework's
// Parallelizer), PreScore and Score for pod: the feasible nodes with their scores.
func filterAndScore(ctx context.Context, f framework.Framework, pod *v1.Pod, all []fwk.NodeInfo) ([]fwk.NodePluginScores, error) {
	state := framework.NewCycleState()
	diagnosis := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus()}
	preResult, status, unschedulablePlugins := f.RunPreFilterPlugins(ctx, state, pod)
	diagnosis.UnschedulablePlugins = unschedulablePlugins
	if !status.IsSuccess() {
		if !status.IsRejected() {
			return nil, status.AsError()
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(status)
		return nil, nil
	}
	nodes := all
	if !preResult.AllNodes() {
		nodes = make([]fwk.NodeInfo, 0, len(preResult.NodeNames))
		for _, n := range all {
			if preResult.NodeNames.Has(n.Node().Name) {
				nodes = append(nodes, n)
			}
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(unschedulablePlugins))))
	}
	feasible, err := passFilters(ctx, f, state, pod, &diagnosis, nodes)
	if err != nil || len(feasible) == 0 {
		return nil, err
	}
	if s := f.RunPreScorePlugins(ctx, state, pod, feasible); !s.IsSuccess() {
		return nil, s.AsError()
	}
	scores, s := f.RunScorePlugins(ctx, state, pod, feasible)
	if !s.IsSuccess() {
		return nil, s.AsError()
	}
	return scores, nil
}

// passFilters is findNodesThatPassFilters with every node to be found: each node's filters on
// the framework's Parallelizer (16 goroutines by default), the feasible ones gathered through an
// atomic index, the others' statuses recorded in the diagnosis.
func passFilters(ctx context.Context, f framework.Framework, state fwk.CycleState, pod *v1.Pod,
	diagnosis *framework.Diagnosis, nodes []fwk.NodeInfo) ([]fwk.NodeInfo, error) {
	feasible := make([]fwk.NodeInfo, len(nodes))
	var feasibleLen int32
	errCh := parallelize.NewResultChannel[error]()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errors.New("passFilters has completed"))
	type nodeStatus struct {
		node   string
		status *fwk.Status
	}
	result := make([]*nodeStatus, len(nodes))
	checkNode := func(i int) {
		nodeInfo := nodes[i]
		status := f.RunFilterPluginsWithNominatedPods(ctx, state, pod, nodeInfo)
		if status.Code() == fwk.Error {
			errCh.SendWithCancel(status.AsError(), func() { cancel(errors.New("a Filter failed")) })
			return
		}
		if status.IsSuccess() {
			feasible[atomic.AddInt32(&feasibleLen, 1)-1] = nodeInfo
		} else {
			result[i] = &nodeStatus{node: nodeInfo.Node().Name, status: status}
		}
	}
	f.Parallelizer().Until(ctx, len(nodes), checkNode, metrics.Filter)
	for _, item := range result {
		if item != nil {
			diagnosis.NodeToStatus.Set(item.node, item.status)
			diagnosis.AddPluginStatus(item.status)
		}
	}
	if err := errCh.Receive(); err != nil {
		return nil, err
	}
	return feasible[:feasibleLen], nil
}
