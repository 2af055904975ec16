package main

import (
	"fmt"
	"os"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// requiredScopeField is the field number of covergate.insurance.v1.required_scope on
// google.protobuf.MethodOptions (see proto/covergate/insurance/v1/auth.proto). The tool reads it
// from the raw option bytes so it does not depend on the generated Go code it helps produce.
const requiredScopeField = 50001

// contract is what the tool reads from the FileDescriptorSet: per grpc-gateway operation id
// (`Service_Method`) the required scope and the request message; per message its CEL rules; and
// the ErrorReason values.
type contract struct {
	scopes       map[string]string
	requestTypes map[string]string
	cel          map[string][]string
	reasons      []string
}

// readContract parses a FileDescriptorSet (buf build -o x.binpb).
func readContract(path string) (*contract, error) {
	c := &contract{scopes: map[string]string{}, requestTypes: map[string]string{}, cel: map[string][]string{}}
	if path == "" {
		return c, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read descriptors: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("parse descriptors: %w", err)
	}
	for _, f := range set.GetFile() {
		if !strings.HasPrefix(f.GetPackage(), "covergate.") {
			continue
		}
		for _, svc := range f.GetService() {
			for _, m := range svc.GetMethod() {
				id := svc.GetName() + "_" + m.GetName()
				if scope := scopeOf(m.GetOptions()); scope != "" {
					c.scopes[id] = scope
				}
				c.requestTypes[id] = strings.TrimPrefix(m.GetInputType(), ".")
			}
		}
		for _, msg := range f.GetMessageType() {
			name := f.GetPackage() + "." + msg.GetName()
			if rules, ok := proto.GetExtension(msg.GetOptions(), validate.E_Message).(*validate.MessageRules); ok && rules != nil {
				for _, r := range rules.GetCel() {
					c.cel[name] = append(c.cel[name], celText(r))
				}
			}
			for _, fld := range msg.GetField() {
				if rules, ok := proto.GetExtension(fld.GetOptions(), validate.E_Field).(*validate.FieldRules); ok && rules != nil {
					for _, r := range rules.GetCel() {
						c.cel[name] = append(c.cel[name], "`"+fld.GetJsonName()+"`: "+celText(r))
					}
				}
			}
		}
		for _, e := range f.GetEnumType() {
			if e.GetName() != "ErrorReason" {
				continue
			}
			for _, v := range e.GetValue() {
				if v.GetNumber() != 0 {
					c.reasons = append(c.reasons, strings.TrimPrefix(v.GetName(), "ERROR_REASON_"))
				}
			}
		}
	}
	return c, nil
}

func celText(r *validate.Rule) string {
	msg := r.GetMessage()
	if msg == "" {
		msg = "`" + r.GetExpression() + "`"
	}
	return "`" + r.GetId() + "`: " + msg
}

func scopeOf(opts *descriptorpb.MethodOptions) string {
	if opts == nil {
		return ""
	}
	b := opts.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == requiredScopeField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return ""
			}
			return string(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		b = b[m:]
	}
	return ""
}
