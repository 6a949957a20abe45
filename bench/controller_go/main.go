// Command controller_go is controller-runtime's side of bench/controller.py: a manager whose
// cache holds the ConfigMaps of one namespace and one controller (the builder's For) whose
// reconciler Gets each ConfigMap from that cache and does nothing else. It counts the distinct
// keys reconciled; once -objects of them have been, it prints one JSON line (seconds from
// starting the manager, reconciles, RSS) and exits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "controller_go: "+format+"\n", args...)
	os.Exit(1)
}

// rss is the resident set size now (/proc/self/statm, as bench/controller.py reads it).
func rss() int64 {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("%v", err)
	}
	pages, err := strconv.ParseInt(strings.Fields(string(statm))[1], 10, 64)
	if err != nil {
		fail("%v", err)
	}
	return pages * int64(os.Getpagesize())
}

// cpu is the user and system CPU seconds of this process so far.
func cpu() float64 {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

// noop Gets the object from the manager's cache and counts its key.
type noop struct {
	client  client.Client
	objects int
	mu      sync.Mutex
	seen    map[string]bool
	calls   int
	done    chan struct{}
}

func (r *noop) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var cm corev1.ConfigMap
	if err := r.client.Get(ctx, req.NamespacedName, &cm); err != nil {
		return reconcile.Result{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.seen[req.String()] = true
	if len(r.seen) == r.objects && r.done != nil {
		close(r.done)
		r.done = nil
	}
	return reconcile.Result{}, nil
}

func main() {
	namespace := flag.String("namespace", "", "the namespace of the ConfigMaps")
	objects := flag.Int("objects", 0, "how many ConfigMaps there are")
	workers := flag.Int("workers", 1, "MaxConcurrentReconciles")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())

	config, err := ctrl.GetConfig() // from controller-runtime's own -kubeconfig flag
	if err != nil {
		fail("%v", err)
	}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fail("%v", err)
	}
	done := make(chan struct{})
	r := &noop{client: mgr.GetClient(), objects: *objects, seen: map[string]bool{}, done: done}
	err = ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: *workers}).Complete(r)
	if err != nil {
		fail("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	before, cpuBefore := rss(), cpu()
	start := time.Now()
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fail("%v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Minute):
		fail("not all %d objects reconciled", *objects)
	}
	seconds := time.Since(start).Seconds()
	now, cpuNow := rss(), cpu()
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	r.mu.Lock()
	out, _ := json.Marshal(map[string]any{"seconds": seconds, "cpu": cpuNow - cpuBefore, "reconciled": len(r.seen), "reconciles": r.calls,
		"rss": now, "rss_before": before, "peak_rss": usage.Maxrss * 1024})
	r.mu.Unlock()
	fmt.Println(string(out))
	cancel()
}
