package gateway

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The contract's files register their descriptors when the package is linked.
	_ "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// apiPackage is the proto package of the internal API.
const apiPackage = "covergate.insurance.v1"

// route is what the HTTP layer knows about an internal-API route before reading its body.
type route struct {
	fullMethod string // /package.Service/Method, the key of the authenticator's scope table
	stream     bool   // server or client streaming: no read/write deadline, no body limit wait
	upload     bool   // the claim-document upload: its own body limit and the upload memory bound
}

// routeTable maps "METHOD pattern" — the grpc-gateway pattern's String(), e.g.
// "POST /v1/policies/{policy_id=*}/claim-documents" — to its route, for every google.api.http
// binding of the internal API in the contract. New RPCs are picked up without code changes.
type routeTable map[string]route

// uploadMethod is the one route whose body may exceed the normal limit.
const uploadMethod = "/covergate.insurance.v1.ClaimService/UploadClaimDocuments"

var templateVar = regexp.MustCompile(`\{([^}=]+)\}`)

func buildRouteTable() (routeTable, error) {
	t := routeTable{}
	var err error
	protoregistry.GlobalFiles.RangeFilesByPackage(apiPackage, func(fd protoreflect.FileDescriptor) bool {
		services := fd.Services()
		for i := 0; i < services.Len(); i++ {
			svc := services.Get(i)
			methods := svc.Methods()
			for j := 0; j < methods.Len(); j++ {
				m := methods.Get(j)
				r := route{
					fullMethod: fmt.Sprintf("/%s/%s", svc.FullName(), m.Name()),
					stream:     m.IsStreamingClient() || m.IsStreamingServer(),
				}
				r.upload = r.fullMethod == uploadMethod
				rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if !ok || rule == nil {
					continue
				}
				for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					method, tmpl := binding(b)
					if tmpl == "" {
						err = fmt.Errorf("gateway: %s has an http rule without a path", r.fullMethod)
						return false
					}
					t[method+" "+normalizeTemplate(tmpl)] = r
				}
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("gateway: no http bindings found in package %s", apiPackage)
	}
	return t, nil
}

func binding(b *annotations.HttpRule) (method, tmpl string) {
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// normalizeTemplate writes a template the way runtime.Pattern.String() prints it: a bare
// variable {x} is {x=*}.
func normalizeTemplate(tmpl string) string {
	return templateVar.ReplaceAllString(tmpl, "{$1=*}")
}

// streamPaths are the literal paths of streaming routes (GET /v1/events:watch), which the
// connection-level deadlines must leave alone.
func (t routeTable) streamPaths() map[string]bool {
	out := map[string]bool{}
	for key, r := range t {
		if !r.stream {
			continue
		}
		_, path, _ := strings.Cut(key, " ")
		if !strings.Contains(path, "{") {
			out[path] = true
		}
	}
	return out
}
