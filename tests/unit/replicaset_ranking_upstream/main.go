// Command replicaset_ranking_upstream asks kube-controller-manager's own pod ranking
// (k8s.io/kubernetes/pkg/controller.ActivePodsWithRanks, what the ReplicaSet controller sorts
// by to pick the pods it deletes first) which of two pods goes first: for each JSON line
// {"pods": [a, b], "ranks": [ra, rb], "now": RFC 3339} on stdin it prints one JSON line
// {"first": Less(a, b), "second": Less(b, a)}, so tests can compare examples/replicaset.py.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/controller"
)

type input struct {
	Pods  []*v1.Pod `json:"pods"`
	Ranks []int     `json:"ranks"`
	Now   time.Time `json:"now"`
}

type output struct {
	First  bool `json:"first"`
	Second bool `json:"second"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var c input
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
		}
		ranked := controller.ActivePodsWithRanks{Pods: c.Pods, Rank: c.Ranks, Now: metav1.NewTime(c.Now)}
		if err := out.Encode(output{First: ranked.Less(0, 1), Second: ranked.Less(1, 0)}); err != nil {
			panic(err)
		}
	}
}
