// Command protoschema prints the table kcore's Rust codec uses to turn Kubernetes protobuf into
// exactly the JSON the API server writes. It reflects over the Go types of the pinned release:
// each struct field's tags give both the protobuf field number and the JSON name/omitempty,
// and the Go type says how the value is rendered.
//
// Regenerate with `./dev codegen`, which runs this program (GOWORK=off) into rust/src/codec/schema.txt.
//
// Output, one record a line, fields separated by one space:
//
//	m ID GO_NAME                  a message (a Go struct); its fields follow in declaration order
//	f JSON_NAME NUMBER FLAGS TYPE [API_VERSION KIND]
//	                              a field; NUMBER 0 = not in protobuf; FLAGS any of p (pointer),
//	                              e (omitempty), z (omitzero), i (inlined into the parent), or -;
//	                              API_VERSION KIND: the TypeMeta the server's conversion gives
//	                              each embedded object (not on the protobuf wire)
//	k API_VERSION KIND ID         a kind the scheme registers, rendered from message ID
//
// TYPE is a scalar (bool int32 int64 uint32 uint64 float64 string bytes), mID (a message),
// a special (time microtime duration quantity intorstring rawextension fieldsv1 json typemeta,
// propsorbool:ID propsorarray:ID propsorstringarray:ID), []TYPE (a repeated field), map:TYPE
// (string keys) or map:[]TYPE (a map whose values protobuf wraps in a message {repeated items = 1}).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregv1beta1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1beta1"
)

// Types whose JSON comes from a MarshalJSON method rather than their fields.
var specials = map[reflect.Type]string{
	reflect.TypeOf(metav1.Time{}):          "time",
	reflect.TypeOf(metav1.MicroTime{}):     "microtime",
	reflect.TypeOf(metav1.Duration{}):      "duration",
	reflect.TypeOf(resource.Quantity{}):    "quantity",
	reflect.TypeOf(intstr.IntOrString{}):   "intorstring",
	reflect.TypeOf(runtime.RawExtension{}): "rawextension",
	reflect.TypeOf(metav1.FieldsV1{}):      "fieldsv1",
	reflect.TypeOf(apiextv1.JSON{}):        "json",
	reflect.TypeOf(apiextv1beta1.JSON{}):   "json",
	reflect.TypeOf(metav1.TypeMeta{}):      "typemeta",
}

// The JSONSchemaPropsOr* unions render as one of their members; their argument is the schema message.
var unions = map[reflect.Type]string{
	reflect.TypeOf(apiextv1.JSONSchemaPropsOrBool{}):             "propsorbool",
	reflect.TypeOf(apiextv1.JSONSchemaPropsOrArray{}):            "propsorarray",
	reflect.TypeOf(apiextv1.JSONSchemaPropsOrStringArray{}):      "propsorstringarray",
	reflect.TypeOf(apiextv1beta1.JSONSchemaPropsOrBool{}):        "propsorbool",
	reflect.TypeOf(apiextv1beta1.JSONSchemaPropsOrArray{}):       "propsorarray",
	reflect.TypeOf(apiextv1beta1.JSONSchemaPropsOrStringArray{}): "propsorstringarray",
}

// Embedded objects whose TypeMeta the API server sets, so that its JSON has them while protobuf
// (which never carries an embedded TypeMeta) does not: StatefulSet claim templates (see
// k8s.io/kubernetes pkg/apis/apps/v1/conversion.go, https://issue.k8s.io/87583) and the items
// of metadata-only lists (k8s.io/apiserver pkg/endpoints/handlers/response.go).
var convertedTypeMeta = map[string]string{
	"k8s.io/apimachinery/pkg/apis/meta/v1.PartialObjectMetadataList.Items":      "meta.k8s.io/v1 PartialObjectMetadata",
	"k8s.io/apimachinery/pkg/apis/meta/v1beta1.PartialObjectMetadataList.Items": "meta.k8s.io/v1beta1 PartialObjectMetadata",
	"k8s.io/api/apps/v1.StatefulSetSpec.VolumeClaimTemplates":                   "v1 PersistentVolumeClaim",
	"k8s.io/api/apps/v1beta1.StatefulSetSpec.VolumeClaimTemplates":              "v1 PersistentVolumeClaim",
	"k8s.io/api/apps/v1beta2.StatefulSetSpec.VolumeClaimTemplates":              "v1 PersistentVolumeClaim",
}

var marshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()

var protoUnmarshaler = reflect.TypeOf((*interface{ Unmarshal([]byte) error })(nil)).Elem()

type gen struct {
	ids   map[reflect.Type]int
	lines [][]string // per message id: its record lines
}

func (g *gen) message(t reflect.Type) int {
	if id, ok := g.ids[t]; ok {
		return id
	}
	id := len(g.lines)
	g.ids[t] = id
	g.lines = append(g.lines, nil)
	out := []string{fmt.Sprintf("m %d %s.%s", id, t.PkgPath(), t.Name())}
	for i := 0; i < t.NumField(); i++ {
		if line, ok := g.field(t, t.Field(i)); ok {
			out = append(out, line)
		}
	}
	g.lines[id] = out
	return id
}

func (g *gen) field(owner reflect.Type, f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return "", false
	}
	parts := strings.Split(tag, ",")
	name, flags := parts[0], ""
	ft := f.Type
	if ft.Kind() == reflect.Pointer {
		flags += "p"
		ft = ft.Elem()
	}
	for _, opt := range parts[1:] {
		switch opt {
		case "omitempty":
			flags += "e"
		case "omitzero":
			flags += "z"
		}
	}
	if name == "" {
		// encoding/json inlines an untagged embedded struct and names any other field after itself.
		if f.Anonymous && ft.Kind() == reflect.Struct {
			flags += "i"
			name = "-"
		} else {
			name = f.Name
		}
	}
	num := 0
	if pb := f.Tag.Get("protobuf"); pb != "" {
		n, err := strconv.Atoi(strings.Split(pb, ",")[1])
		if err != nil {
			panic(fmt.Sprintf("%s.%s: bad protobuf tag %q", owner, f.Name, pb))
		}
		num = n
	} else if ft != reflect.TypeOf(metav1.TypeMeta{}) {
		fmt.Fprintf(os.Stderr, "note: %s.%s has no protobuf tag; rendered as its zero value\n", owner, f.Name)
	}
	if flags == "" {
		flags = "-"
	}
	line := fmt.Sprintf("f %s %d %s %s", name, num, flags, g.typ(ft, owner, f.Name))
	if tm, ok := convertedTypeMeta[owner.PkgPath()+"."+owner.Name()+"."+f.Name]; ok {
		line += " " + tm
	}
	return line, true
}

func (g *gen) typ(t reflect.Type, owner reflect.Type, field string) string {
	if s, ok := specials[t]; ok {
		return s
	}
	if s, ok := unions[t]; ok {
		props, _ := t.FieldByName("Schema")
		return fmt.Sprintf("%s:%d", s, g.message(props.Type.Elem()))
	}
	if t.Kind() == reflect.Struct && (t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler)) {
		panic(fmt.Sprintf("%s.%s: %s has its own MarshalJSON; teach protoschema and the codec about it", owner, field, t))
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Float64, reflect.String:
		return t.Kind().String()
	case reflect.Int:
		return "int64"
	case reflect.Struct:
		return fmt.Sprintf("m%d", g.message(t))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "[]" + g.typ(t.Elem(), owner, field)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("%s.%s: map key %s is not a string", owner, field, t.Key()))
		}
		v := t.Elem()
		if v.Kind() == reflect.Slice && v.Elem().Kind() != reflect.Uint8 {
			return "map:[]" + g.typ(v.Elem(), owner, field)
		}
		return "map:" + g.typ(v, owner, field)
	}
	panic(fmt.Sprintf("%s.%s: unsupported Go type %s", owner, field, t))
}

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextv1.AddToScheme, apiextv1beta1.AddToScheme,
		apiregv1.AddToScheme, apiregv1beta1.AddToScheme, metav1.AddMetaToScheme, metav1beta1.AddMetaToScheme,
		apidiscoveryv2.AddToScheme, apidiscoveryv2beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	known := scheme.AllKnownTypes()
	var gvks []schema.GroupVersionKind
	for gvk := range known {
		// Kinds without generated protobuf code (meta.k8s.io Table, …) are JSON-only.
		if gvk.Version != runtime.APIVersionInternal && reflect.PointerTo(known[gvk]).Implements(protoUnmarshaler) {
			gvks = append(gvks, gvk)
		}
	}
	sort.Slice(gvks, func(i, j int) bool {
		a, b := gvks[i], gvks[j]
		return a.GroupVersion().String()+" "+a.Kind < b.GroupVersion().String()+" "+b.Kind
	})
	g := &gen{ids: map[reflect.Type]int{}}
	var kinds []string
	for _, gvk := range gvks {
		kinds = append(kinds, fmt.Sprintf("k %s %s %d", gvk.GroupVersion().String(), gvk.Kind, g.message(known[gvk])))
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintln(w, "# Generated by tools/protoschema from k8s.io/api v0.37.2 (and apimachinery, apiextensions-apiserver, kube-aggregator); do not edit. Regenerate: ./dev codegen")
	for _, lines := range g.lines {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
	for _, k := range kinds {
		fmt.Fprintln(w, k)
	}
}
