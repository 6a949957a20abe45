// Command extender_upstream decodes and re-encodes kube-scheduler's extender wire types
// (k8s.io/kube-scheduler/extender/v1 at the pinned release) with Go's encoding/json, as
// kube-scheduler and Go extenders do. One JSON object a line on stdin:
//
//	{"type": "ExtenderArgs" | "ExtenderFilterResult" | "HostPriorityList" | "ExtenderBindingArgs" |
//	         "ExtenderBindingResult" | "ExtenderPreemptionArgs" | "ExtenderPreemptionResult",
//	 "value": <the JSON to decode>}
//
// answered by one line: {"value": <json.Marshal of what was decoded>} or {"error": "..."}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	extenderv1 "k8s.io/kube-scheduler/extender/v1"
)

type request struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func target(kind string) (interface{}, error) {
	switch kind {
	case "ExtenderArgs":
		return &extenderv1.ExtenderArgs{}, nil
	case "ExtenderFilterResult":
		return &extenderv1.ExtenderFilterResult{}, nil
	case "HostPriorityList":
		return &extenderv1.HostPriorityList{}, nil
	case "ExtenderBindingArgs":
		return &extenderv1.ExtenderBindingArgs{}, nil
	case "ExtenderBindingResult":
		return &extenderv1.ExtenderBindingResult{}, nil
	case "ExtenderPreemptionArgs":
		return &extenderv1.ExtenderPreemptionArgs{}, nil
	case "ExtenderPreemptionResult":
		return &extenderv1.ExtenderPreemptionResult{}, nil
	}
	return nil, fmt.Errorf("unknown type %q", kind)
}

func answer(line []byte) interface{} {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return map[string]string{"error": err.Error()}
	}
	value, err := target(req.Type)
	if err == nil {
		err = json.Unmarshal(req.Value, value)
	}
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	return map[string]interface{}{"value": value}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if err := out.Encode(answer(in.Bytes())); err != nil {
			panic(err)
		}
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
}
