// Command scheduler_upstream runs kube-scheduler's own framework runtime (the pinned
// k8s.io/kubernetes release: the in-tree plugin registry, NewFramework, the cache's
// NewSnapshot) over cases read from stdin, one JSON object a line:
//
//	{"namespaces": [Namespace], "persistentVolumeClaims": [PersistentVolumeClaim],
//	 "services": [Service], "replicationControllers": [...], "replicaSets": [...], "statefulSets": [...],
//	 "nodes": [Node], "pods": [Pod with spec.nodeName], "pod": Pod,
//	 "profile": {"filters": [name], "scores": [{"name": n, "weight": w}], "pluginConfig": [...]}}
//
// and answers each with one JSON line:
//
//	{"filter": {node: null | {"plugin": p, "code": "Unschedulable"|"UnschedulableAndUnresolvable", "reasons": [...]}},
//	 "scores": {plugin: {node: normalized score}}, "total": {node: weighted sum},
//	 "fitError": kube-scheduler's message when no node fits}
//
// Filtering follows schedule_one.go's findNodesThatFitPod over every node (PreFilter, then each
// node's Filter; no sampling); scoring follows prioritizeNodes over the feasible nodes (PreScore,
// Score, NormalizeScore). "scores" holds each plugin's score after NormalizeScore and before its
// weight. A case that fails gets {"error": "..."}. See tests/scheduler_upstream_driver.py.
//
// A case with "pending": [Pod] (and "repeats": n) is timed instead (timed.go): the snapshot
// and framework are built once, then each pending pod is filtered and scored "repeats" times.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
)

type weighted struct {
	Name   string `json:"name"`
	Weight int32  `json:"weight"`
}

type profileCase struct {
	// Default: kube-scheduler's default profile (its plugins, order and weights), keeping only
	// the plugins named in Keep; PluginConfig still applies.
	Default      bool              `json:"default"`
	Keep         []string          `json:"keep"`
	Filters      []string          `json:"filters"`
	Scores       []weighted        `json:"scores"`
	PluginConfig []json.RawMessage `json:"pluginConfig"`
}

type schedulingCase struct {
	// Namespaces: what InterPodAffinity's namespace lister sees.
	Namespaces []*v1.Namespace `json:"namespaces"`
	// PersistentVolumeClaims: what VolumeRestrictions' claim lister sees.
	PersistentVolumeClaims []*v1.PersistentVolumeClaim `json:"persistentVolumeClaims"`
	// What PodTopologySpread's default constraints take their selector from.
	Services               []*v1.Service               `json:"services"`
	ReplicationControllers []*v1.ReplicationController `json:"replicationControllers"`
	ReplicaSets            []*appsv1.ReplicaSet        `json:"replicaSets"`
	StatefulSets           []*appsv1.StatefulSet       `json:"statefulSets"`
	Nodes                  []*v1.Node                  `json:"nodes"`
	Pods                   []*v1.Pod                   `json:"pods"`
	Pod                    *v1.Pod                     `json:"pod"`
	Profile                profileCase                 `json:"profile"`
	// Sequence: pods scheduled one after another with sampling (see sampling.go) instead of Pod.
	Sequence                 []*v1.Pod `json:"sequence"`
	PercentageOfNodesToScore *int32    `json:"percentageOfNodesToScore"`
	// Pending: the pods to time (timed.go), each filtered and scored Repeats times.
	Pending []*v1.Pod `json:"pending"`
	Repeats int       `json:"repeats"`
}

type failure struct {
	Plugin  string   `json:"plugin"`
	Code    string   `json:"code"`
	Reasons []string `json:"reasons"`
}

type outcome struct {
	Filter map[string]*failure `json:"filter"`
	// FitError is kube-scheduler's message when no node fits ("0/3 nodes are available: ...").
	FitError string                      `json:"fitError,omitempty"`
	Scores   map[string]map[string]int64 `json:"scores"`
	Total    map[string]int64            `json:"total"`
}

func main() {
	klog.SetOutput(os.Stderr)
	// The framework records its metrics as it runs, as kube-scheduler's does.
	metrics.Register()
	reader := bufio.NewReaderSize(os.Stdin, 1<<20)
	writer := bufio.NewWriter(os.Stdout)
	decoder := json.NewDecoder(reader)
	encoder := json.NewEncoder(writer)
	for decoder.More() {
		var c schedulingCase
		var answer any
		if err := decoder.Decode(&c); err != nil {
			answer = map[string]string{"error": fmt.Sprintf("decoding the case: %v", err)}
			_ = encoder.Encode(answer)
			_ = writer.Flush()
			os.Exit(2)
		}
		var result any
		var err error
		if c.Pending != nil {
			result, err = timed(&c)
		} else if c.Sequence != nil {
			result, err = runSequence(&c)
		} else {
			result, err = run(&c)
		}
		if err != nil {
			answer = map[string]string{"error": err.Error()}
		} else {
			answer = result
		}
		if err := encoder.Encode(answer); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := writer.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// profile builds the profile the way kube-scheduler reads one from its configuration file (the
// v1 API, defaulted and converted by the scheduler's own scheme): every default plugin disabled,
// the case's filters and scores enabled through multiPoint, and each disabled at the extension
// points it is not named for (so PreFilter runs with Filter and PreScore with Score).
func profile(p profileCase) (*config.KubeSchedulerProfile, error) {
	if p.Default {
		return defaultProfile(p)
	}
	filters := sets.New(p.Filters...)
	scores := sets.New[string]()
	type named struct {
		Name   string `json:"name"`
		Weight int32  `json:"weight,omitempty"`
	}
	var enabled []named
	for _, name := range p.Filters {
		enabled = append(enabled, named{Name: name})
	}
	for _, s := range p.Scores {
		scores.Insert(s.Name)
		if filters.Has(s.Name) {
			for i := range enabled {
				if enabled[i].Name == s.Name {
					enabled[i].Weight = s.Weight
				}
			}
			continue
		}
		enabled = append(enabled, named{Name: s.Name, Weight: s.Weight})
	}
	var notFilters, notScores []named
	for _, e := range enabled {
		if !filters.Has(e.Name) {
			notFilters = append(notFilters, named{Name: e.Name})
		}
		if !scores.Has(e.Name) {
			notScores = append(notScores, named{Name: e.Name})
		}
	}
	set := func(on, off []named) map[string]any {
		return map[string]any{"enabled": on, "disabled": off}
	}
	pluginConfig := p.PluginConfig
	if pluginConfig == nil {
		pluginConfig = []json.RawMessage{}
	}
	document := map[string]any{
		"apiVersion": "kubescheduler.config.k8s.io/v1",
		"kind":       "KubeSchedulerConfiguration",
		"profiles": []any{map[string]any{
			"schedulerName": "parity",
			"plugins": map[string]any{
				"multiPoint": set(enabled, []named{{Name: "*"}}),
				// A framework needs a queue sort and a binder; neither takes part in filtering or scoring.
				"queueSort": set([]named{{Name: "PrioritySort"}}, nil),
				"bind":      set([]named{{Name: "DefaultBinder"}}, nil),
				"preFilter": set(nil, notFilters),
				"filter":    set(nil, notFilters),
				"preScore":  set(nil, notScores),
				"score":     set(nil, notScores),
			},
			"pluginConfig": pluginConfig,
		}},
	}
	return decodeProfile(document)
}

// defaultProfile is kube-scheduler's default profile with only the plugins in p.Keep (and the
// queue sort and binder every framework needs) left enabled.
func defaultProfile(p profileCase) (*config.KubeSchedulerProfile, error) {
	pluginConfig := p.PluginConfig
	if pluginConfig == nil {
		pluginConfig = []json.RawMessage{}
	}
	prof, err := decodeProfile(map[string]any{
		"apiVersion": "kubescheduler.config.k8s.io/v1",
		"kind":       "KubeSchedulerConfiguration",
		"profiles":   []any{map[string]any{"schedulerName": "parity", "pluginConfig": pluginConfig}},
	})
	if err != nil {
		return nil, err
	}
	keep := sets.New(p.Keep...).Insert("PrioritySort", "DefaultBinder")
	var enabled []config.Plugin
	for _, plugin := range prof.Plugins.MultiPoint.Enabled {
		if keep.Has(plugin.Name) {
			enabled = append(enabled, plugin)
		}
	}
	prof.Plugins.MultiPoint.Enabled = enabled
	return prof, nil
}

func decodeProfile(document map[string]any) (*config.KubeSchedulerProfile, error) {
	data, err := json.Marshal(document)
	if err != nil {
		return nil, err
	}
	object, _, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding the profile: %w", err)
	}
	configuration, ok := object.(*config.KubeSchedulerConfiguration)
	if !ok {
		return nil, fmt.Errorf("decoding the profile gave %T", object)
	}
	return &configuration.Profiles[0], nil
}

// noDeviceClasses is the DRA view of a cluster without DeviceClasses: NodeResourcesFit and
// NodeResourcesBalancedAllocation ask it whether an extended resource is backed by DRA (no), and
// with no DRA manager at all they would dereference nil when scoring an extended resource.
type noDeviceClasses struct{ fwk.SharedDRAManager }

func (noDeviceClasses) DeviceClassResolver() fwk.DeviceClassResolver { return noDeviceClasses{} }

func (noDeviceClasses) GetDeviceClass(v1.ResourceName) *resourceapi.DeviceClass { return nil }

// noNominatedPods is the scheduling queue's view of a cluster where no pod is nominated to a node
// (no preemption has happened): RunFilterPluginsWithNominatedPods asks it for each node.
type noNominatedPods struct{ fwk.PodNominator }

func (noNominatedPods) NominatedPodsForNode(string) []fwk.PodInfo { return nil }

func failureOf(s *fwk.Status) *failure {
	return &failure{Plugin: s.Plugin(), Code: s.Code().String(), Reasons: append([]string{}, s.Reasons()...)}
}

// informerFactory is an informer factory whose listers hold the case's namespaces, claims,
// services and controllers (and nothing else).
func informerFactory(client *fake.Clientset, c *schedulingCase) (informers.SharedInformerFactory, error) {
	factory := informers.NewSharedInformerFactory(client, 0)
	core, apps := factory.Core().V1(), factory.Apps().V1()
	var err error
	add := func(indexer toolscache.Indexer, object any) {
		if err == nil {
			err = indexer.Add(object)
		}
	}
	for _, o := range c.Namespaces {
		add(core.Namespaces().Informer().GetIndexer(), o)
	}
	for _, o := range c.PersistentVolumeClaims {
		add(core.PersistentVolumeClaims().Informer().GetIndexer(), o)
	}
	for _, o := range c.Services {
		add(core.Services().Informer().GetIndexer(), o)
	}
	for _, o := range c.ReplicationControllers {
		add(core.ReplicationControllers().Informer().GetIndexer(), o)
	}
	for _, o := range c.ReplicaSets {
		add(apps.ReplicaSets().Informer().GetIndexer(), o)
	}
	for _, o := range c.StatefulSets {
		add(apps.StatefulSets().Informer().GetIndexer(), o)
	}
	if err != nil {
		return nil, err
	}
	return factory, nil
}

// newFramework builds the case's profile into a framework over a snapshot of its nodes and pods,
// as kube-scheduler's runtime does.
func newFramework(ctx context.Context, c *schedulingCase) (framework.Framework, *cache.Snapshot, *config.KubeSchedulerProfile, error) {
	prof, err := profile(c.Profile)
	if err != nil {
		return nil, nil, nil, err
	}
	snapshot := cache.NewSnapshot(c.Pods, c.Nodes)
	factory, err := informerFactory(fake.NewClientset(), c)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := frameworkruntime.NewFramework(ctx, plugins.NewInTreeRegistry(), prof,
		frameworkruntime.WithSnapshotSharedLister(snapshot), frameworkruntime.WithSharedDRAManager(noDeviceClasses{}),
		frameworkruntime.WithInformerFactory(factory), frameworkruntime.WithPodNominator(noNominatedPods{}))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("building the framework: %w", err)
	}
	return f, snapshot, prof, nil
}

func run(c *schedulingCase) (*outcome, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, snapshot, prof, err := newFramework(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &outcome{Filter: map[string]*failure{}, Scores: map[string]map[string]int64{}, Total: map[string]int64{}}
	all, err := snapshot.NodeInfos().List()
	if err != nil {
		return nil, err
	}
	state := framework.NewCycleState()
	// The diagnosis as findNodesThatFitPod keeps it, for the FitError message.
	diagnosis := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus()}
	fitError := func() string {
		return (&framework.FitError{Pod: c.Pod, NumAllNodes: len(all), Diagnosis: diagnosis}).Error()
	}
	preResult, status, unschedulablePlugins := f.RunPreFilterPlugins(ctx, state, c.Pod)
	if !status.IsSuccess() {
		if !status.IsRejected() {
			return nil, status.AsError()
		}
		for _, n := range all {
			out.Filter[n.Node().Name] = failureOf(status)
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(status)
		diagnosis.PreFilterMsg = status.Message()
		out.FitError = fitError()
		return out, nil
	}
	if !preResult.AllNodes() {
		diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(unschedulablePlugins))))
	}
	var feasible []fwk.NodeInfo
	for _, n := range all {
		name := n.Node().Name
		if !preResult.AllNodes() && !preResult.NodeNames.Has(name) {
			out.Filter[name] = failureOf(diagnosis.NodeToStatus.AbsentNodesStatus())
			continue
		}
		s := f.RunFilterPlugins(ctx, state, c.Pod, n)
		if s.Code() == fwk.Error {
			return nil, s.AsError()
		}
		if s.IsSuccess() {
			out.Filter[name] = nil
			feasible = append(feasible, n)
		} else {
			out.Filter[name] = failureOf(s)
			diagnosis.NodeToStatus.Set(name, s)
		}
	}
	if len(feasible) == 0 {
		out.FitError = fitError()
		return out, nil
	}
	if !f.HasScorePlugins() {
		// prioritizeNodes gives every feasible node a total of 1 when nothing scores.
		for _, n := range feasible {
			out.Total[n.Node().Name] = 1
		}
		return out, nil
	}
	if s := f.RunPreScorePlugins(ctx, state, c.Pod, feasible); !s.IsSuccess() {
		return nil, s.AsError()
	}
	nodeScores, s := f.RunScorePlugins(ctx, state, c.Pod, feasible)
	if !s.IsSuccess() {
		return nil, s.AsError()
	}
	weights := map[string]int64{}
	for _, w := range prof.Plugins.MultiPoint.Enabled {
		weights[w.Name] = int64(w.Weight)
	}
	for _, w := range c.Profile.Scores {
		weights[w.Name] = int64(w.Weight)
	}
	for name, w := range weights {
		if w == 0 {
			weights[name] = 1
		}
	}
	for _, ns := range nodeScores {
		out.Total[ns.Name] = ns.TotalScore
		for _, ps := range ns.Scores {
			if out.Scores[ps.Name] == nil {
				out.Scores[ps.Name] = map[string]int64{}
			}
			out.Scores[ps.Name][ns.Name] = ps.Score / weights[ps.Name]
		}
	}
	return out, nil
}
