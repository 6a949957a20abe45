// Command informer_upstream runs client-go's own SharedInformer (from a SharedInformerFactory)
// against a real API server, for two uses:
//
//   - -mode record: every handler call is printed to stdout as one JSON line, so tests can check
//     that kcore's informer makes exactly the same calls;
//   - -mode bench: the time from Start to HasSynced and the memory held afterwards, printed as one
//     JSON line, to compare kcore's informer with client-go's.
//
// Logs go to stderr; stdout carries only the JSON lines. See tests/e2e/informer_upstream_driver.py.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type options struct {
	kubeconfig  string
	mode        string
	resource    string
	namespace   string
	resync      time.Duration
	protobuf    bool
	stripFields bool
	qps         float64
	burst       int
	syncTimeout time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "path of the kubeconfig (required)")
	flag.StringVar(&o.mode, "mode", "record", "record: print every handler call; bench: time to sync and memory")
	flag.StringVar(&o.resource, "resource", "configmaps", "core/v1 resource to inform on: pods or configmaps")
	flag.StringVar(&o.namespace, "namespace", "", "namespace to inform on (empty: all namespaces)")
	flag.DurationVar(&o.resync, "resync", 0, "the factory's default resync period (0: none)")
	flag.BoolVar(&o.protobuf, "protobuf", false, "talk protobuf (ContentType application/vnd.kubernetes.protobuf); false: JSON")
	flag.BoolVar(&o.stripFields, "strip-managed-fields", true, "transform clearing metadata.managedFields, as kube-controller-manager does")
	flag.Float64Var(&o.qps, "qps", -1, "client-side QPS (negative: no client-side rate limit)")
	flag.IntVar(&o.burst, "burst", 0, "client-side burst")
	flag.DurationVar(&o.syncTimeout, "sync-timeout", 10*time.Minute, "bench: give up (exit 1) if not synced by then")
	klog.InitFlags(nil) // -v=6 logs each request to stderr
	flag.Parse()
	if o.kubeconfig == "" {
		fail("-kubeconfig is required")
	}
	if o.resource != "pods" && o.resource != "configmaps" {
		fail("-resource must be pods or configmaps, not %q", o.resource)
	}
	switch o.mode {
	case "record":
		record(o)
	case "bench":
		bench(o)
	default:
		fail("-mode must be record or bench, not %q", o.mode)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "informer_upstream: "+format+"\n", args...)
	os.Exit(2)
}

func clientset(o options) *kubernetes.Clientset {
	config, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		fail("kubeconfig: %v", err)
	}
	config.QPS = float32(o.qps)
	config.Burst = o.burst
	// Set either way: with no ContentType, client-go's typed clients ask for protobuf by default
	// (gentype's prefersProtobuf), so JSON has to be asked for explicitly.
	if o.protobuf {
		// As kube-controller-manager sets it (--kube-api-content-type).
		config.ContentType = "application/vnd.kubernetes.protobuf"
		config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	} else {
		config.ContentType = "application/json"
		config.AcceptContentTypes = "application/json"
	}
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		fail("clientset: %v", err)
	}
	return cs
}

// stripManagedFields is kube-controller-manager's informer transform (trimming managedFields).
func stripManagedFields(obj any) (any, error) {
	if accessor, err := meta.Accessor(obj); err == nil && accessor.GetManagedFields() != nil {
		accessor.SetManagedFields(nil)
	}
	return obj, nil
}

func newInformer(o options, cs kubernetes.Interface) (informers.SharedInformerFactory, cache.SharedIndexInformer) {
	opts := []informers.SharedInformerOption{informers.WithNamespace(o.namespace)}
	if o.stripFields {
		opts = append(opts, informers.WithTransform(stripManagedFields))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, o.resync, opts...)
	var informer cache.SharedIndexInformer
	if o.resource == "pods" {
		informer = factory.Core().V1().Pods().Informer()
	} else {
		informer = factory.Core().V1().ConfigMaps().Informer()
	}
	return factory, informer
}

// out writes whole JSON lines to stdout, one write each, unbuffered.
var outMu sync.Mutex

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		fmt.Fprintf(os.Stderr, "informer_upstream: stdout: %v\n", err)
	}
}

func resourceVersion(obj any) string {
	if accessor, err := meta.Accessor(obj); err == nil {
		return accessor.GetResourceVersion()
	}
	return ""
}

func key(obj any) string {
	k, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return ""
	}
	return k
}

type addLine struct {
	Handler string `json:"handler"`
	Key     string `json:"key"`
	RV      string `json:"rv"`
	Initial bool   `json:"initial"`
}

type updateLine struct {
	Handler string `json:"handler"`
	Key     string `json:"key"`
	OldRV   string `json:"old_rv"`
	RV      string `json:"rv"`
}

type deleteLine struct {
	Handler   string `json:"handler"`
	Key       string `json:"key"`
	RV        string `json:"rv"`
	Tombstone bool   `json:"tombstone"`
}

func record(o options) {
	cs := clientset(o)
	factory, informer := newInformer(o, cs)
	registration, err := informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			emit(addLine{"add", key(obj), resourceVersion(obj), isInInitialList})
		},
		UpdateFunc: func(oldObj, newObj any) {
			emit(updateLine{"update", key(newObj), resourceVersion(oldObj), resourceVersion(newObj)})
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				emit(deleteLine{"delete", tombstone.Key, resourceVersion(tombstone.Obj), true})
				return
			}
			emit(deleteLine{"delete", key(obj), resourceVersion(obj), false})
		},
	})
	if err != nil {
		fail("add event handler: %v", err)
	}

	stop := make(chan struct{})
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	go func() {
		<-stdinClosed
		close(stop)
	}()

	factory.Start(stop)
	// Synced: the informer's store holds the initial list, and the handler has returned from
	// every initial add (the registration's own HasSynced), so the marker follows those lines.
	if waitDone(stop, informer.HasSyncedChecker(), registration.HasSyncedChecker()) {
		emit(map[string]bool{"synced": true})
	}
	<-stop
	factory.Shutdown()
}

// waitDone waits until every checker is done (true) or stop is closed first (false).
func waitDone(stop <-chan struct{}, checkers ...cache.DoneChecker) bool {
	for _, checker := range checkers {
		select {
		case <-checker.Done():
		case <-stop:
			return false
		}
	}
	return true
}

type memory struct {
	HeapAlloc uint64
	HeapInuse uint64
	Sys       uint64
	RSS       uint64
}

func measure() memory {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memory{m.HeapAlloc, m.HeapInuse, m.Sys, vmRSS()}
}

// vmRSS is the process's resident set in bytes, from /proc/self/status (0 where there is none).
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest) // "123456 kB"
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseUint(fields[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}

type benchLine struct {
	SyncedSeconds     float64 `json:"synced_seconds"`
	Items             int     `json:"items"`
	HeapAlloc         uint64  `json:"heap_alloc"`
	HeapInuse         uint64  `json:"heap_inuse"`
	Sys               uint64  `json:"sys"`
	RSS               uint64  `json:"rss"`
	BaselineHeapAlloc uint64  `json:"baseline_heap_alloc"`
	BaselineHeapInuse uint64  `json:"baseline_heap_inuse"`
	BaselineSys       uint64  `json:"baseline_sys"`
	BaselineRSS       uint64  `json:"baseline_rss"`
}

func bench(o options) {
	cs := clientset(o)
	baseline := measure()

	factory, informer := newInformer(o, cs)
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{}); err != nil {
		fail("add event handler: %v", err)
	}
	stop := make(chan struct{})
	start := time.Now()
	factory.Start(stop)
	// The informer's DoneChecker channel rather than WaitForCacheSync, which polls every 100 ms.
	select {
	case <-informer.HasSyncedChecker().Done():
	case <-time.After(o.syncTimeout):
		fmt.Fprintf(os.Stderr, "informer_upstream: not synced after %v\n", o.syncTimeout)
		os.Exit(1)
	}
	synced := time.Since(start)

	after := measure()
	items := len(informer.GetStore().ListKeys())
	emit(benchLine{
		SyncedSeconds: synced.Seconds(), Items: items,
		HeapAlloc: after.HeapAlloc, HeapInuse: after.HeapInuse, Sys: after.Sys, RSS: after.RSS,
		BaselineHeapAlloc: baseline.HeapAlloc, BaselineHeapInuse: baseline.HeapInuse,
		BaselineSys: baseline.Sys, BaselineRSS: baseline.RSS,
	})
	close(stop)
	factory.Shutdown()
}
