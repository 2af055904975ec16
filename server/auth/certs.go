package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// CertPrincipals maps the subject common name of a verified client certificate (gRPC mTLS) to
// the scopes it holds.
type CertPrincipals map[string][]string

// ParseCertPrincipals reads `CN:SCOPE[,SCOPE...]` entries separated by `;`.
func ParseCertPrincipals(spec string) (CertPrincipals, error) {
	out := CertPrincipals{}
	var problems []string
	for i, entry := range strings.Split(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		cn, list, ok := cutLast(entry, ":")
		if !ok || strings.TrimSpace(cn) == "" {
			problems = append(problems, fmt.Sprintf("entry %d: want CN:SCOPE[,SCOPE...]", i+1))
			continue
		}
		scopes, err := parseScopes(list)
		if err != nil {
			problems = append(problems, fmt.Sprintf("entry %d: %v", i+1, err))
			continue
		}
		if _, dup := out[cn]; dup {
			problems = append(problems, fmt.Sprintf("entry %d: %q is configured twice", i+1, cn))
			continue
		}
		out[strings.TrimSpace(cn)] = scopes
	}
	if len(problems) > 0 {
		return nil, errors.New("mtls principals: " + strings.Join(problems, "; "))
	}
	return out, nil
}

// certPrincipal returns the principal of a call made with a verified client certificate whose
// subject is mapped. Unverified or unmapped certificates give nothing: the call must then
// authenticate with a bearer key like any other.
func (c CertPrincipals) certPrincipal(ctx context.Context) (Principal, bool) {
	if len(c) == 0 {
		return Principal{}, false
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Principal{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return Principal{}, false
	}
	leaf := info.State.VerifiedChains[0][0]
	scopes, ok := c[subjectName(leaf)]
	if !ok {
		return Principal{}, false
	}
	return Principal{Name: "cert:" + subjectName(leaf), Scopes: scopes}, true
}

func subjectName(cert *x509.Certificate) string { return cert.Subject.CommonName }
