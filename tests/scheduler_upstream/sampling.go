package main

// A case with "sequence" runs kube-scheduler's own Scheduler (scheduler.New, its cache and
// snapshot, one filter worker) on each pod of the sequence in turn against the same cluster,
// as percentageOfNodesToScore sampling does it: findNodesThatFitPod searches from
// nextStartNodeIndex, stops once enough nodes fit and advances the index. Each pod's answer is
//
//	{"nodeOrder": [node], "feasible": [node in the order found], "evaluated": EvaluatedNodes,
//	 "fitError": kube-scheduler's message when no node fits}
//
// nodeOrder is the snapshot's node order (the cache's node tree). One worker makes the search
// sequential: with more, which nodes are found first depends on timing.

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedprofile "k8s.io/kubernetes/pkg/scheduler/profile"
)

type sampled struct {
	NodeOrder []string `json:"nodeOrder"`
	Feasible  []string `json:"feasible"`
	Evaluated int      `json:"evaluated"`
	FitError  string   `json:"fitError,omitempty"`
}

// recorder is a PreScore plugin that keeps the feasible nodes it is given, in their order.
type recorder struct{ nodes []string }

const recorderName = "ParityRecorder"

func (r *recorder) Name() string { return recorderName }

func (r *recorder) PreScore(_ context.Context, _ fwk.CycleState, _ *v1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	r.nodes = r.nodes[:0]
	for _, n := range nodes {
		r.nodes = append(r.nodes, n.Node().Name)
	}
	return nil
}

func runSequence(c *schedulingCase) ([]sampled, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := klog.FromContext(ctx)
	prof, err := profile(c.Profile)
	if err != nil {
		return nil, err
	}
	prof.SchedulerName = "parity"
	prof.PercentageOfNodesToScore = c.PercentageOfNodesToScore
	prof.Plugins.PreScore.Enabled = append(prof.Plugins.PreScore.Enabled, config.Plugin{Name: recorderName})
	rec := &recorder{}
	registry := frameworkruntime.Registry{recorderName: func(context.Context, runtime.Object, fwk.Handle) (fwk.Plugin, error) {
		return rec, nil
	}}
	client := fake.NewClientset()
	factory, err := informerFactory(client, c)
	if err != nil {
		return nil, err
	}
	snapshot := cache.NewEmptySnapshot()
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	sched, err := scheduler.New(ctx, client, factory, nil, schedprofile.NewRecorderFactory(broadcaster),
		scheduler.WithProfiles(*prof), scheduler.WithParallelism(1), scheduler.WithNodeInfoSnapshot(snapshot),
		scheduler.WithFrameworkOutOfTreeRegistry(registry))
	if err != nil {
		return nil, fmt.Errorf("building the scheduler: %w", err)
	}
	for _, n := range c.Nodes {
		sched.Cache.AddNode(logger, n)
	}
	for _, p := range c.Pods {
		if err := sched.Cache.AddPod(logger, p); err != nil {
			return nil, err
		}
	}
	if err := sched.Cache.UpdateSnapshot(logger, snapshot); err != nil {
		return nil, err
	}
	infos, err := snapshot.NodeInfos().List()
	if err != nil {
		return nil, err
	}
	var order []string
	for _, n := range infos {
		order = append(order, n.Node().Name)
	}
	f := sched.Profiles["parity"]
	var out []sampled
	for _, pod := range c.Sequence {
		podInfo, err := framework.NewPodInfo(pod)
		if err != nil {
			return nil, err
		}
		rec.nodes = nil
		result, err := sched.SchedulePod(ctx, f, framework.NewCycleState(), &framework.QueuedPodInfo{PodInfo: podInfo})
		answer := sampled{NodeOrder: order, Feasible: []string{}}
		var fitError *framework.FitError
		switch {
		case errors.As(err, &fitError):
			answer.FitError = fitError.Error()
		case err != nil:
			return nil, err
		case result.FeasibleNodes == 1:
			answer.Feasible = []string{result.SuggestedHost}
			answer.Evaluated = result.EvaluatedNodes
		default:
			answer.Feasible = append(answer.Feasible, rec.nodes...)
			answer.Evaluated = result.EvaluatedNodes
		}
		out = append(out, answer)
	}
	return out, nil
}
