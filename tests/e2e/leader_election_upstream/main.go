// Command leader_election_upstream runs client-go's own LeaderElector (tools/leaderelection,
// v0.37.2) over a coordination.k8s.io/v1 Lease as one candidate, so tests can put it on the same
// Lease as kcore's candidates and check that leadership passes both ways and that both write
// the Lease alike.
//
// stdout carries one JSON line per callback: {"event":"started"}, {"event":"stopped"},
// {"event":"new_leader","identity":"..."}; each with "at", the local time in RFC 3339 with
// nanoseconds. Closing stdin or SIGTERM cancels the election's context (a release follows with
// -release-on-cancel); the process exits once Run has returned. Logs go to stderr.
// See tests/e2e/leader_election_upstream_driver.py.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

var stdout sync.Mutex

func emit(event map[string]string) {
	event["at"] = time.Now().Format(time.RFC3339Nano)
	line, err := json.Marshal(event)
	if err != nil {
		panic(err)
	}
	stdout.Lock()
	defer stdout.Unlock()
	fmt.Println(string(line))
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path of the kubeconfig (required)")
	namespace := flag.String("namespace", "default", "the Lease's namespace")
	name := flag.String("name", "", "the Lease's name (required)")
	identity := flag.String("identity", "", "this candidate's identity (required)")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "LeaseDuration")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "RenewDeadline")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "RetryPeriod")
	releaseOnCancel := flag.Bool("release-on-cancel", false, "ReleaseOnCancel")
	klog.InitFlags(nil)
	flag.Parse()
	if *kubeconfig == "" || *name == "" || *identity == "" {
		fmt.Fprintln(os.Stderr, "-kubeconfig, -name and -identity are required")
		os.Exit(2)
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	config.QPS, config.Burst = -1, 0
	client := kubernetes.NewForConfigOrDie(config)

	// SIGTERM stands down as a Deployment's pod does when it is deleted.
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // stdin closed: stand down
		cancel()
	}()

	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: *namespace, Name: *name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: *identity},
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: *releaseOnCancel,
		Name:            *name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				emit(map[string]string{"event": "started"})
				<-leading.Done()
			},
			OnStoppedLeading: func() { emit(map[string]string{"event": "stopped"}) },
			OnNewLeader:      func(id string) { emit(map[string]string{"event": "new_leader", "identity": id}) },
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	elector.Run(ctx)
	emit(map[string]string{"event": "exited"})
}
