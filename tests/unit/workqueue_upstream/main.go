// Command workqueue_upstream replays an operation script (JSON on stdin) against client-go's own
// util/workqueue and prints one JSON result per operation, so tests can compare kcore with it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
)

type limiterSpec struct {
	Type    string        `json:"type"`
	Base    time.Duration `json:"base"`
	Max     time.Duration `json:"max"`
	Fast    time.Duration `json:"fast"`
	Slow    time.Duration `json:"slow"`
	MaxFast int           `json:"max_fast"`
	QPS     float64       `json:"qps"`
	Burst   int           `json:"burst"`
	Of      []limiterSpec `json:"of"`
	Inner   *limiterSpec  `json:"inner"`
}

type op struct {
	Op      string `json:"op"`
	Item    string `json:"item"`
	Limiter string `json:"limiter"`
	Ms      int    `json:"ms"`
}

type script struct {
	Limiters     map[string]limiterSpec `json:"limiters"`
	QueueLimiter limiterSpec            `json:"queue_limiter"`
	Ops          []op                   `json:"ops"`
}

func build(s limiterSpec) workqueue.TypedRateLimiter[string] {
	switch s.Type {
	case "exponential":
		return workqueue.NewTypedItemExponentialFailureRateLimiter[string](s.Base, s.Max)
	case "fastslow":
		return workqueue.NewTypedItemFastSlowRateLimiter[string](s.Fast, s.Slow, s.MaxFast)
	case "bucket":
		return &workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(s.QPS), s.Burst)}
	case "maxof":
		var of []workqueue.TypedRateLimiter[string]
		for _, o := range s.Of {
			of = append(of, build(o))
		}
		return workqueue.NewTypedMaxOfRateLimiter(of...)
	case "maxwait":
		return workqueue.NewTypedWithMaxWaitRateLimiter(build(*s.Inner), s.Max)
	case "default":
		return workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	panic("unknown limiter " + s.Type)
}

func main() {
	var s script
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	limiters := map[string]workqueue.TypedRateLimiter[string]{}
	for name, spec := range s.Limiters {
		limiters[name] = build(spec)
	}
	q := workqueue.NewTypedRateLimitingQueue(build(s.QueueLimiter))
	var out []any
	for _, o := range s.Ops {
		switch o.Op {
		case "add":
			q.Add(o.Item)
			out = append(out, nil)
		case "get_if_ready":
			if q.Len() == 0 && !q.ShuttingDown() {
				out = append(out, nil)
			} else {
				item, shutdown := q.Get()
				out = append(out, []any{item, shutdown})
			}
		case "get":
			item, shutdown := q.Get()
			out = append(out, []any{item, shutdown})
		case "done":
			q.Done(o.Item)
			out = append(out, nil)
		case "len":
			out = append(out, q.Len())
		case "add_after":
			q.AddAfter(o.Item, time.Duration(o.Ms)*time.Millisecond)
			out = append(out, nil)
		case "add_rate_limited":
			q.AddRateLimited(o.Item)
			out = append(out, nil)
		case "forget":
			q.Forget(o.Item)
			out = append(out, nil)
		case "num_requeues":
			out = append(out, q.NumRequeues(o.Item))
		case "shut_down":
			q.ShutDown()
			out = append(out, nil)
		case "shutting_down":
			out = append(out, q.ShuttingDown())
		case "when":
			out = append(out, int64(limiters[o.Limiter].When(o.Item)))
		case "limiter_forget":
			limiters[o.Limiter].Forget(o.Item)
			out = append(out, nil)
		case "limiter_num_requeues":
			out = append(out, limiters[o.Limiter].NumRequeues(o.Item))
		default:
			fmt.Fprintln(os.Stderr, "unknown op", o.Op)
			os.Exit(2)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
