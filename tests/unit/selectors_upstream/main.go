// Command selectors_upstream parses label selectors with k8s.io/apimachinery's own labels
// package: for each JSON line {"selector": s, "labels": {...}} on stdin it prints one JSON line
// {"ok": true, "matches": bool} or {"ok": false, "err": message}, so tests can compare kcore's
// Rust selectors with upstream. A line with "labelSelector" (a metav1.LabelSelector object) is
// read with metav1.LabelSelectorAsSelector instead.
package main

import (
	"bufio"
	"encoding/json"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

type input struct {
	Selector      string                `json:"selector"`
	LabelSelector *metav1.LabelSelector `json:"labelSelector"`
	Labels        map[string]string     `json:"labels"`
}

type output struct {
	OK      bool   `json:"ok"`
	Err     string `json:"err,omitempty"`
	Matches bool   `json:"matches"`
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
		s, err := labels.Parse(c.Selector)
		if c.LabelSelector != nil {
			s, err = metav1.LabelSelectorAsSelector(c.LabelSelector)
		}
		r := output{OK: err == nil}
		if err != nil {
			r.Err = err.Error()
		} else {
			r.Matches = s.Matches(labels.Set(c.Labels))
		}
		if err := out.Encode(r); err != nil {
			panic(err)
		}
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
}
