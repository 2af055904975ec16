package main

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// requiredScopeField is the field number of covergate.insurance.v1.required_scope on
// google.protobuf.MethodOptions (see proto/covergate/insurance/v1/auth.proto). The tool reads it
// from the raw option bytes so it does not depend on the generated Go code it helps produce.
const requiredScopeField = 50001

// readScopes maps grpc-gateway operation ids (`Service_Method`) to required scopes.
func readScopes(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read descriptors: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("parse descriptors: %w", err)
	}
	scopes := map[string]string{}
	for _, f := range set.GetFile() {
		for _, svc := range f.GetService() {
			for _, m := range svc.GetMethod() {
				if scope := scopeOf(m.GetOptions()); scope != "" {
					scopes[svc.GetName()+"_"+m.GetName()] = scope
				}
			}
		}
	}
	return scopes, nil
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
