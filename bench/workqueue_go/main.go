// Command workqueue_go measures client-go's own workqueue the way bench/workqueue.py measures
// kcore's: one producer adds distinct keys while N workers Get and Done them, then ShutDown.
// With -workers 0 one goroutine does Add, Get and Done in turn: the cost per item, no hand-offs.
// It prints items per second.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func main() {
	items := flag.Int("items", 1000000, "distinct keys to add")
	workers := flag.Int("workers", 1, "worker goroutines; 0: add, get and done in turn in one goroutine")
	flag.Parse()

	keys := make([]string, *items)
	for i := range keys {
		keys[i] = fmt.Sprintf("ns/name-%d", i)
	}
	q := workqueue.NewTyped[string]()
	if *workers == 0 {
		start := time.Now()
		for _, key := range keys {
			q.Add(key)
			got, _ := q.Get()
			q.Done(got)
		}
		fmt.Printf("%.0f\n", float64(*items)/time.Since(start).Seconds())
		return
	}
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, shutdown := q.Get()
				if shutdown {
					return
				}
				q.Done(key)
			}
		}()
	}
	for _, key := range keys {
		q.Add(key)
	}
	q.ShutDown()
	wg.Wait()
	fmt.Printf("%.0f\n", float64(*items)/time.Since(start).Seconds())
}
