package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	insurancev1 "github.com/covergate/covergate/gen/go/covergate/insurance/v1"
)

// apiMarshaler is the internal API's JSON marshaler with one exception: the claim-document
// upload is decoded without the copies grpc-gateway's decoder makes. Its decoder buffers the
// whole JSON value in a growing buffer, copies it into a json.RawMessage, and protojson then
// unescapes each base64 string into a new string before decoding it: four to five times the
// body in memory at once. Here the body is read into one buffer of its declared size and each
// file is decoded from its base64 straight out of that buffer: the raw body plus the files.
type apiMarshaler struct {
	jsonMarshaler
}

// jsonMarshaler is runtime.JSONPb answering in one buffer (Marshal).
type jsonMarshaler struct {
	*runtime.JSONPb
}

// Marshal encodes a message straight into one buffer. runtime.JSONPb encodes it and then
// copies the result into a bytes.Buffer, two buffers grown step by step for every answer; the
// bytes are the same.
func (m jsonMarshaler) Marshal(v any) ([]byte, error) {
	msg, ok := v.(proto.Message)
	if !ok {
		return m.JSONPb.Marshal(v)
	}
	return m.MarshalOptions.MarshalAppend(make([]byte, 0, answerBufferSize), msg)
}

// answerBufferSize holds a typical single-resource answer (a policy is ~650 bytes).
const answerBufferSize = 1 << 10

func (m apiMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		if up, ok := v.(*insurancev1.UploadClaimDocumentsRequest); ok {
			return decodeUpload(r, up)
		}
		return m.JSONPb.NewDecoder(r).Decode(v)
	})
}

// uploadJSON mirrors UploadClaimDocumentsRequest's protojson form: both the JSON (lowerCamel)
// and the proto field names are accepted, unknown members are an error (as on every API route).
type uploadJSON struct {
	PolicyID      *string         `json:"policyId"`
	PolicyIDProto *string         `json:"policy_id"`
	Documents     []uploadDocJSON `json:"documents"`
}

type uploadDocJSON struct {
	FileName         *string     `json:"fileName"`
	FileNameProto    *string     `json:"file_name"`
	ContentType      *string     `json:"contentType"`
	ContentTypeProto *string     `json:"content_type"`
	Content          base64Bytes `json:"content"`
}

func decodeUpload(r io.Reader, out *insurancev1.UploadClaimDocumentsRequest) error {
	raw, err := readSized(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return io.EOF // an empty body is an empty request, as grpc-gateway treats it
	}
	var in uploadJSON
	if err := json.Unmarshal(raw, &in, json.RejectUnknownMembers(true)); err != nil {
		return fmt.Errorf("decode upload: %w", err)
	}
	if in.PolicyID != nil && in.PolicyIDProto != nil {
		return errors.New("decode upload: policyId and policy_id both set")
	}
	if p := first(in.PolicyID, in.PolicyIDProto); p != nil {
		out.PolicyId = *p
	}
	for i, d := range in.Documents {
		name, ctype := first(d.FileName, d.FileNameProto), first(d.ContentType, d.ContentTypeProto)
		if (d.FileName != nil && d.FileNameProto != nil) || (d.ContentType != nil && d.ContentTypeProto != nil) {
			return fmt.Errorf("decode upload: documents[%d]: a field is set under both of its names", i)
		}
		doc := &insurancev1.ClaimDocumentUpload{Content: d.Content}
		if name != nil {
			doc.FileName = *name
		}
		if ctype != nil {
			doc.ContentType = *ctype
		}
		out.Documents = append(out.Documents, doc)
		in.Documents[i].Content = nil
	}
	return nil
}

func first(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

// readSized reads the whole body into one buffer of its declared size (sizedBody), or a growing
// one when the size is unknown; the body is already bounded by the route's limit.
func readSized(r io.Reader) ([]byte, error) {
	sb, ok := r.(interface{ Size() int64 })
	if !ok || sb.Size() <= 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, sb.Size()+1) // +1: EOF is seen without growing
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow: the body is longer than it said
		}
	}
}

// base64Bytes decodes a JSON string of base64 (standard or URL alphabet, padded or not, as
// protojson accepts) directly from the decoder's buffer, without an intermediate string.
type base64Bytes []byte

func (b *base64Bytes) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch val.Kind() {
	case 'n':
		*b = nil
		return nil
	case '"':
	default:
		return errors.New("content: want a base64 string")
	}
	src := []byte(val[1 : len(val)-1])
	if bytes.IndexByte(src, '\\') >= 0 {
		// Escapes ("\/" for instance) are legal JSON: unquote this value only.
		if src, err = jsontext.AppendUnquote(nil, val); err != nil {
			return fmt.Errorf("content: %w", err)
		}
	}
	enc := base64.StdEncoding
	if bytes.ContainsAny(src, "-_") {
		enc = base64.URLEncoding
	}
	if len(src)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	dst := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(dst, src)
	if err != nil {
		return fmt.Errorf("content: invalid base64: %w", err)
	}
	*b = dst[:n]
	return nil
}
