// Command rpcdescriptors writes a FileDescriptorSet of google/rpc/status.proto and
// google/rpc/error_details.proto (and the well-known types they import) taken from the
// google.golang.org/genproto/googleapis/rpc module pinned in go.mod: the very descriptors the
// server encodes its errors with. The TypeScript and Python clients are generated from it, so
// their ErrorInfo and BadRequest (including FieldViolation.reason) match the server exactly,
// whereas the googleapis copy in third_party/ predates ErrorInfo.
//
// Usage: go run ./clients/rpcdescriptors OUT.binpb
package main

import (
	"fmt"
	"os"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rpcdescriptors OUT.binpb")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func write(path string) error {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	for _, fd := range []protoreflect.FileDescriptor{
		status.File_google_rpc_status_proto,
		errdetails.File_google_rpc_error_details_proto,
	} {
		addWithImports(set, seen, fd)
	}
	// Deterministic marshalling keeps the generated clients byte-for-byte reproducible.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return fmt.Errorf("rpcdescriptors: marshal descriptor set: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("rpcdescriptors: write %s: %w", path, err)
	}
	return nil
}

// addWithImports appends fd after its imports, as a FileDescriptorSet must be ordered for protoc.
func addWithImports(set *descriptorpb.FileDescriptorSet, seen map[string]bool, fd protoreflect.FileDescriptor) {
	if seen[fd.Path()] {
		return
	}
	seen[fd.Path()] = true
	imports := fd.Imports()
	for i := range imports.Len() {
		addWithImports(set, seen, imports.Get(i).FileDescriptor)
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
}
