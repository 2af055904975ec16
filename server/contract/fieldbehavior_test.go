package contract

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	// The contract's generated code registers its descriptors.
	_ "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
	_ "github.com/covergate/covergate/gen/go/covergate/webhooks/v1"
)

// services lists every service of the contract.
func services(t *testing.T) []protoreflect.ServiceDescriptor {
	t.Helper()
	var out []protoreflect.ServiceDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "covergate.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			out = append(out, fd.Services().Get(i))
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no covergate services registered")
	}
	return out
}

// reachable adds md and every covergate message its fields reach to seen.
func reachable(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]protoreflect.MessageDescriptor) {
	if !strings.HasPrefix(string(md.FullName()), "covergate.") || md.IsMapEntry() {
		if md.IsMapEntry() {
			if v := md.Fields().ByNumber(2); v.Message() != nil {
				reachable(v.Message(), seen)
			}
		}
		return
	}
	if _, ok := seen[md.FullName()]; ok {
		return
	}
	seen[md.FullName()] = md
	for i := 0; i < md.Fields().Len(); i++ {
		if m := md.Fields().Get(i).Message(); m != nil {
			reachable(m, seen)
		}
	}
}

// messageSets are the contract's messages that requests reach (inputs) and those only responses
// reach (outputs).
func messageSets(t *testing.T) (inputs, outputs map[protoreflect.FullName]protoreflect.MessageDescriptor) {
	inputs, all := map[protoreflect.FullName]protoreflect.MessageDescriptor{}, map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	for _, svc := range services(t) {
		for i := 0; i < svc.Methods().Len(); i++ {
			m := svc.Methods().Get(i)
			reachable(m.Input(), inputs)
			reachable(m.Output(), all)
		}
	}
	outputs = map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	for name, md := range all {
		if _, in := inputs[name]; !in {
			outputs[name] = md
		}
	}
	return inputs, outputs
}

func behaviors(fd protoreflect.FieldDescriptor) []annotations.FieldBehavior {
	b, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return b
}

// enforcedRequired lists the fields of md that the server refuses when absent: protovalidate
// reports a violation for them on an empty message (required, uuid, non-empty patterns, enum
// not_in 0, min_items, ...). A oneof's required rule names no single field and is left out.
func enforcedRequired(t *testing.T, v protovalidate.Validator, md protoreflect.MessageDescriptor) []string {
	t.Helper()
	var out []string
	err := v.Validate(dynamicpb.NewMessage(md))
	if err == nil {
		return nil
	}
	verr, ok := err.(*protovalidate.ValidationError)
	if !ok {
		t.Fatalf("%s: validate: %v", md.FullName(), err)
	}
	for _, viol := range verr.Violations {
		if viol.FieldDescriptor == nil || viol.FieldDescriptor.ContainingMessage().FullName() != md.FullName() {
			continue
		}
		if viol.FieldDescriptor.ContainingOneof() != nil && !viol.FieldDescriptor.HasPresence() {
			continue
		}
		name := string(viol.FieldDescriptor.Name())
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// TestFieldBehaviorMatchesEnforcement: a request field is REQUIRED exactly when the server
// refuses a request without it, and every field of a message that only responses carry is
// OUTPUT_ONLY. FIELD_BEHAVIOR_PRINT=1 prints the annotations the contract needs.
func TestFieldBehaviorMatchesEnforcement(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	inputs, outputs := messageSets(t)
	var want []string
	for _, md := range sortedMessages(inputs) {
		req := enforcedRequired(t, v, md)
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			enforced := slices.Contains(req, string(fd.Name()))
			declared := slices.Contains(behaviors(fd), annotations.FieldBehavior_REQUIRED)
			if enforced {
				want = append(want, fmt.Sprintf("%s REQUIRED", fd.FullName()))
			}
			if enforced != declared {
				t.Errorf("%s: the server %s it but field_behavior REQUIRED is %v", fd.FullName(), map[bool]string{true: "requires", false: "does not require"}[enforced], declared)
			}
			if slices.Contains(behaviors(fd), annotations.FieldBehavior_OUTPUT_ONLY) {
				t.Errorf("%s: OUTPUT_ONLY on a message that requests carry", fd.FullName())
			}
		}
	}
	for _, md := range sortedMessages(outputs) {
		if strings.HasSuffix(string(md.Name()), "Response") {
			continue // envelopes: their fields are the answer, not server-set parts of a resource
		}
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			want = append(want, fmt.Sprintf("%s OUTPUT_ONLY", fd.FullName()))
			if !slices.Contains(behaviors(fd), annotations.FieldBehavior_OUTPUT_ONLY) {
				t.Errorf("%s: only responses carry %s, so the field must be OUTPUT_ONLY", fd.FullName(), md.Name())
			}
		}
	}
	if os.Getenv("FIELD_BEHAVIOR_PRINT") != "" {
		fmt.Println(strings.Join(want, "\n"))
	}
}

func sortedMessages(m map[protoreflect.FullName]protoreflect.MessageDescriptor) []protoreflect.MessageDescriptor {
	out := make([]protoreflect.MessageDescriptor, 0, len(m))
	for _, md := range m {
		out = append(out, md)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out
}
