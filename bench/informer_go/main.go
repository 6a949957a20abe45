// Command informer_go replays a recorded watch stream through client-go v0.37.2's own decoding
// path into client-go's cache, as bench/informer.py replays the same bytes through kcore's:
//
//   - the watch bytes (Kubernetes protobuf, length-delimited frames, as kube-apiserver sent them)
//     go through the framer, the streaming decoder and rest/watch's Decoder that client-go's
//     RESTClient builds for a typed clientset's watch (the same negotiator, the same scheme);
//   - each event's object goes through kube-controller-manager's transform (managedFields
//     cleared) unless -strip-managed-fields=false, then through processDeltas' own steps: Get
//     the old object, Update the Indexer (a ThreadSafeStore with the namespace index), and call
//     a no-op ResourceEventHandler's OnUpdate(old, new).
//
// The Indexer is first filled, untimed, from the recorded list body (the objects the events
// modify). Each run starts from a fresh Indexer; it prints one JSON line: events and seconds per run.
//
// With -mode informer it runs client-go's whole SharedInformer instead (a SharedInformerFactory's
// pod informer, protobuf) against -kubeconfig, where bench/informer.py serves the same recorded
// list and watch stream: it prints the seconds from HasSynced until a no-op UpdateFunc has been
// called -events times. Run it with KUBE_FEATURE_WatchListClient=false: the replay serves a LIST.
//
// With -mode queries it syncs a pod informer (with a by_node index) from -kubeconfig and times
// the lister queries bench/informer.py times on kcore's indexer: the median of -runs of each.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	restwatch "k8s.io/client-go/rest/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const protobuf = "application/vnd.kubernetes.protobuf"

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "informer_go: "+format+"\n", args...)
	os.Exit(1)
}

// The negotiator client-go's typed core/v1 client builds (rest.RESTClientFor with the clientset's
// codec factory, WithoutConversion).
func negotiator() apiruntime.ClientNegotiator {
	codecs := rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion()
	return apiruntime.NewClientNegotiator(codecs, corev1.SchemeGroupVersion)
}

// stripManagedFields is kube-controller-manager's informer transform (as tests/e2e/informer_upstream).
func stripManagedFields(obj any) (any, error) {
	if accessor, err := meta.Accessor(obj); err == nil && accessor.GetManagedFields() != nil {
		accessor.SetManagedFields(nil)
	}
	return obj, nil
}

func fill(n apiruntime.ClientNegotiator, list []byte, strip bool) cache.Indexer {
	decoder, err := n.Decoder(protobuf, nil)
	if err != nil {
		fail("decoder: %v", err)
	}
	obj, err := apiruntime.Decode(decoder, list)
	if err != nil {
		fail("list body: %v", err)
	}
	pods, ok := obj.(*corev1.PodList)
	if !ok {
		fail("list body is a %T, not a PodList", obj)
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for i := range pods.Items {
		var item any = &pods.Items[i]
		if strip {
			item, _ = stripManagedFields(item)
		}
		if err := indexer.Add(item); err != nil {
			fail("add: %v", err)
		}
	}
	return indexer
}

func replay(n apiruntime.ClientNegotiator, stream []byte, indexer cache.Indexer, strip bool, handler cache.ResourceEventHandler) (int, time.Duration) {
	start := time.Now()
	objectDecoder, streamingSerializer, framer, err := n.StreamDecoder(protobuf, nil)
	if err != nil {
		fail("stream decoder: %v", err)
	}
	frames := framer.NewFrameReader(io.NopCloser(bytes.NewReader(stream)))
	decoder := restwatch.NewDecoder(streaming.NewDecoder(frames, streamingSerializer), objectDecoder)
	events := 0
	for {
		eventType, obj, err := decoder.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("event %d: %v", events, err)
		}
		if eventType != watch.Modified && eventType != watch.Added {
			fail("event %d is %s", events, eventType)
		}
		var item any = obj
		if strip {
			item, _ = stripManagedFields(item)
		}
		if old, exists, err := indexer.Get(item); err == nil && exists {
			if err := indexer.Update(item); err != nil {
				fail("update: %v", err)
			}
			handler.OnUpdate(old, item)
		} else {
			if err := indexer.Add(item); err != nil {
				fail("add: %v", err)
			}
			handler.OnAdd(item, false)
		}
		events++
	}
	return events, time.Since(start)
}

func clientset(kubeconfig string) *kubernetes.Clientset {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fail("kubeconfig: %v", err)
	}
	config.QPS = -1
	config.ContentType = protobuf
	config.AcceptContentTypes = protobuf + ",application/json"
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		fail("clientset: %v", err)
	}
	return cs
}

// informer runs client-go's SharedInformer until its handler has seen `events` updates.
func informer(kubeconfig, namespace string, strip bool, events int64) float64 {
	cs := clientset(kubeconfig)
	opts := []informers.SharedInformerOption{informers.WithNamespace(namespace)}
	if strip {
		opts = append(opts, informers.WithTransform(stripManagedFields))
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, opts...)
	pods := factory.Core().V1().Pods().Informer()
	var updates atomic.Int64
	done := make(chan struct{})
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			if updates.Add(1) == events {
				close(done)
			}
		},
	}); err != nil {
		fail("add event handler: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	<-pods.HasSyncedChecker().Done()
	start := time.Now()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		fail("%d updates of %d after 10 minutes", updates.Load(), events)
	}
	return time.Since(start).Seconds()
}

type query struct {
	Query   string  `json:"query"`
	Found   int     `json:"found"`
	Seconds float64 `json:"seconds"`
}

// queries times a pod lister's queries over a synced cache of every pod (managedFields stripped).
func queries(kubeconfig, app, node, namespace string, runs int) []query {
	factory := informers.NewSharedInformerFactoryWithOptions(clientset(kubeconfig), 0, informers.WithTransform(stripManagedFields))
	pods := factory.Core().V1().Pods()
	byNode := func(obj any) ([]string, error) { return []string{obj.(*corev1.Pod).Spec.NodeName}, nil }
	if err := pods.Informer().AddIndexers(cache.Indexers{"by_node": byNode}); err != nil {
		fail("add indexers: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	<-pods.Informer().HasSyncedChecker().Done()
	lister, indexer := pods.Lister(), pods.Informer().GetIndexer()
	selector := labels.SelectorFromSet(labels.Set{"app": app})
	cases := []struct {
		name string
		run  func() int
	}{
		{fmt.Sprintf("label selector \"app=%s\"", app), func() int { found, _ := lister.List(selector); return len(found) }},
		{fmt.Sprintf("by_node index \"%s\"", node), func() int { found, _ := indexer.ByIndex("by_node", node); return len(found) }},
		{fmt.Sprintf("namespace \"%s\"", namespace), func() int { found, _ := lister.Pods(namespace).List(labels.Everything()); return len(found) }},
	}
	var out []query
	for _, c := range cases {
		var times []float64
		found := 0
		for r := 0; r < runs; r++ {
			start := time.Now()
			found = c.run()
			times = append(times, time.Since(start).Seconds())
		}
		sort.Float64s(times)
		out = append(out, query{c.name, found, times[len(times)/2]})
	}
	close(stop)
	return out
}

func main() {
	mode := flag.String("mode", "decode", "decode: replay -watch through the decoder into an Indexer; informer: run a SharedInformer")
	kubeconfig := flag.String("kubeconfig", "", "informer: the kubeconfig of the server replaying the recording")
	namespace := flag.String("namespace", "", "informer: the namespace to inform on; queries: the namespace to list")
	events := flag.Int64("events", 0, "informer: the updates to wait for")
	app := flag.String("app", "", "queries: the app label to select")
	node := flag.String("node", "", "queries: the node to look up in the by_node index")
	listFile := flag.String("list", "", "the recorded list body (protobuf PodList)")
	watchFile := flag.String("watch", "", "the recorded watch stream (protobuf frames)")
	strip := flag.Bool("strip-managed-fields", true, "clear metadata.managedFields, as kube-controller-manager's transform")
	runs := flag.Int("runs", 3, "timed replays, each into a freshly filled Indexer (queries: runs of each query)")
	flag.Parse()
	if *mode == "queries" {
		out, _ := json.Marshal(queries(*kubeconfig, *app, *node, *namespace, *runs))
		fmt.Println(string(out))
		os.Exit(0)
	}
	if *mode == "informer" {
		fmt.Printf("{\"events\": %d, \"seconds\": [%f]}\n", *events, informer(*kubeconfig, *namespace, *strip, *events))
		os.Exit(0)
	}
	list, err := os.ReadFile(*listFile)
	if err != nil {
		fail("%v", err)
	}
	stream, err := os.ReadFile(*watchFile)
	if err != nil {
		fail("%v", err)
	}
	n := negotiator()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) {},
		UpdateFunc: func(oldObj, newObj any) {},
	}
	result := struct {
		Events  int       `json:"events"`
		Seconds []float64 `json:"seconds"`
	}{}
	for r := 0; r < *runs; r++ {
		indexer := fill(n, list, *strip)
		runtime.GC()
		events, took := replay(n, stream, indexer, *strip, handler)
		result.Events = events
		result.Seconds = append(result.Seconds, took.Seconds())
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}
