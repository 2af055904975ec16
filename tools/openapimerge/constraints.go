package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// The protovalidate rules reach the OpenAPI schemas through Buf's protoc-gen-jsonschema
// (github.com/bufbuild/protoschema-plugins), which `make generate` runs into a temporary
// directory: one JSON Schema per message, properties under their JSON names. This file only
// copies the validation keywords of each property onto the property of the same name in the
// OpenAPI document; it interprets no protovalidate rule itself.

// validationKeywords are the JSON-Schema keywords copied from protoc-gen-jsonschema's output.
var validationKeywords = []string{
	"pattern", "format", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
	"exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "const",
}

// uuidPattern is how protoc-gen-jsonschema spells `string.uuid`; the document also says
// `format: uuid` so that generators and validators that know the format use it.
const uuidPattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

// jsonSchemas reads every *.jsonschema.json of dir, keyed by message full name.
func jsonSchemas(dir string) (map[string]doc, error) {
	out := map[string]doc{}
	if dir == "" {
		return out, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonschema.json"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.jsonschema.json in %s", dir)
	}
	for _, f := range files {
		d, err := readJSON(f)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(filepath.Base(f), ".jsonschema.json")] = d
	}
	return out, nil
}

// applyConstraints copies validation keywords into the component schemas (named by message full
// name, as protoc-gen-openapiv3 names them) and into the request bodies and parameters of the
// operations, whose request messages protoc-gen-openapiv3 inlines.
func applyConstraints(d doc, js map[string]doc, requestTypes map[string]string) {
	comps, _ := d["components"].(doc)
	schemas, _ := comps["schemas"].(doc)
	for name, s := range schemas {
		if src, ok := js[name]; ok {
			mergeProperties(s.(doc), src)
		}
	}
	for _, item := range d["paths"].(doc) {
		for _, raw := range item.(doc) {
			op, ok := raw.(doc)
			if !ok {
				continue
			}
			src, ok := js[requestTypes[fmt.Sprint(op["operationId"])]]
			if !ok {
				continue
			}
			if body, ok := dig(op, "requestBody", "content", "application/json", "schema").(doc); ok && body["$ref"] == nil {
				mergeProperties(body, src)
			}
			for _, p := range asSlice(op["parameters"]) {
				param, _ := p.(doc)
				schema, _ := param["schema"].(doc)
				if schema == nil || param["in"] == "header" {
					continue
				}
				if prop := propertyAt(src, js, fmt.Sprint(param["name"])); prop != nil {
					copyKeywords(schema, prop, param["required"] != true)
				}
			}
		}
	}
	for _, s := range schemas {
		openStructs(s)
	}
	walkOperations(d, func(_, _ string, op doc) { openStructs(op) })
}

// propertyAt finds the JSON Schema of a (possibly dotted) query parameter name.
func propertyAt(src doc, js map[string]doc, name string) doc {
	parts := strings.Split(name, ".")
	cur := src
	for i, part := range parts {
		props, _ := cur["properties"].(doc)
		prop, _ := props[lowerCamel(part)].(doc)
		if prop == nil {
			return nil
		}
		if i == len(parts)-1 {
			return prop
		}
		ref, _ := prop["$ref"].(string)
		cur = js[strings.TrimSuffix(ref, ".jsonschema.json")]
		if cur == nil {
			return nil
		}
	}
	return nil
}

func mergeProperties(dst, src doc) {
	props, _ := dst["properties"].(doc)
	srcProps, _ := src["properties"].(doc)
	required := map[string]bool{}
	for _, r := range asSlice(dst["required"]) {
		required[fmt.Sprint(r)] = true
	}
	for name, p := range props {
		sp, _ := srcProps[name].(doc)
		if sp == nil {
			continue
		}
		copyKeywords(p.(doc), sp, !required[name])
	}
}

// copyKeywords puts src's validation keywords on dst. A $ref'd or allOf-wrapped property keeps
// its reference and gets the keywords beside it (OpenAPI 3.1 allows siblings of $ref).
//
// optional is true for a field that is not REQUIRED: the server accepts its zero value (the
// rule has `ignore = IGNORE_IF_ZERO_VALUE`, or protovalidate skips it), and the gateway writes
// zero values in responses, so the keywords must let "" (or 0, or []) through: they go into
// `anyOf: [{const: zero}, {keywords}]`, which protoc-gen-jsonschema does not do itself.
func copyKeywords(dst, src doc, optional bool) {
	if items, ok := src["items"].(doc); ok {
		dstItems, _ := dst["items"].(doc)
		if dstItems != nil {
			copyKeywords(dstItems, items, false)
		}
	}
	kw := doc{}
	for _, k := range validationKeywords {
		if v, ok := src[k]; ok {
			kw[k] = v
		}
	}
	if src["pattern"] == uuidPattern {
		kw["format"] = "uuid"
	}
	if len(kw) > 0 {
		if zero, ok := zeroValue(dst); ok && optional && rejectsZero(kw) {
			dst["anyOf"] = []any{doc{"const": zero}, kw}
		} else {
			for k, v := range kw {
				dst[k] = v
			}
		}
	}
	// An enum field restricted by protovalidate (defined_only, not_in, in) is an anyOf of the
	// allowed names and numbers: keep the allowed names.
	if allowed := allowedEnumNames(src); len(allowed) > 0 && (dst["$ref"] != nil || dst["allOf"] != nil || dst["enum"] != nil) {
		dst["enum"] = allowed
		if dst["type"] == nil && dst["$ref"] == nil && dst["allOf"] == nil {
			dst["type"] = "string"
		}
	}
}

// zeroValue is the JSON of a scalar property's proto3 zero value.
func zeroValue(s doc) (any, bool) {
	switch s["type"] {
	case "string":
		if s["format"] == "int64" || s["format"] == "uint64" {
			return "0", true
		}
		return "", true
	case "integer", "number":
		return 0, true
	}
	return nil, false
}

// rejectsZero reports whether keywords refuse the zero value ("" or 0).
func rejectsZero(kw doc) bool {
	if _, ok := kw["pattern"]; ok {
		return true // the patterns of our rules all need at least one character
	}
	if _, ok := kw["format"]; ok {
		return true
	}
	for _, k := range []string{"minLength", "minimum", "exclusiveMinimum"} {
		if v, ok := kw[k].(float64); ok && (v > 0 || (k == "exclusiveMinimum" && v >= 0)) {
			return true
		}
	}
	return false
}

// allowedEnumNames returns the enum names a protoc-gen-jsonschema enum property accepts, nil
// when the field has no enum rule (the plain enum schema lists every name, UNSPECIFIED too).
func allowedEnumNames(src doc) []any {
	var names []any
	restricted := false
	for _, alt := range asSlice(src["anyOf"]) {
		a, _ := alt.(doc)
		if a["type"] != "string" {
			continue
		}
		if e, ok := a["enum"].([]any); ok {
			names = append(names, e...)
		}
		if p, ok := a["pattern"].(string); ok && strings.HasPrefix(p, "^") && strings.HasSuffix(p, "$") {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$"))
		}
	}
	for _, n := range names {
		if strings.HasSuffix(fmt.Sprint(n), "_UNSPECIFIED") {
			return nil // the zero value is allowed: no restriction worth stating
		}
		restricted = true
	}
	if !restricted {
		return nil
	}
	sort.Slice(names, func(i, j int) bool { return fmt.Sprint(names[i]) < fmt.Sprint(names[j]) })
	return names
}

// openStructs marks google.protobuf.Struct values (an object schema without properties) as open
// maps: without additionalProperties, generators type them as objects with no keys
// (openapi-typescript: Record<string, never>) and a publish call cannot carry a payload.
func openStructs(v any) {
	switch t := v.(type) {
	case doc:
		if t["type"] == "object" && t["properties"] == nil && t["additionalProperties"] == nil && t["$ref"] == nil {
			t["additionalProperties"] = true
		}
		for _, c := range t {
			openStructs(c)
		}
	case []any:
		for _, c := range t {
			openStructs(c)
		}
	}
}

func dig(d doc, keys ...string) any {
	var cur any = d
	for _, k := range keys {
		m, ok := cur.(doc)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// walkOperations calls f for every operation of d.
func walkOperations(d doc, f func(path, method string, op doc)) {
	paths, _ := d["paths"].(doc)
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for method, raw := range paths[p].(doc) {
			if op, ok := raw.(doc); ok {
				f(p, method, op)
			}
		}
	}
}

// celDescriptions appends each message's CEL rules (protovalidate message options, which JSON
// Schema cannot express) to the description of its schema.
func celDescriptions(d doc, cel map[string][]string, requestTypes map[string]string) {
	schemas, _ := dig(d, "components", "schemas").(doc)
	for name, rules := range cel {
		if s, ok := schemas[name].(doc); ok {
			appendRules(s, rules)
		}
	}
	walkOperations(d, func(_, _ string, op doc) {
		rules := cel[requestTypes[fmt.Sprint(op["operationId"])]]
		if body, ok := dig(op, "requestBody", "content", "application/json", "schema").(doc); ok && len(rules) > 0 && body["$ref"] == nil {
			appendRules(body, rules)
		}
	})
}

func appendRules(s doc, rules []string) {
	desc := strings.TrimSpace(fmt.Sprint(orEmpty(s["description"])))
	var b strings.Builder
	b.WriteString(desc)
	if desc != "" {
		b.WriteString("\n\n")
	}
	b.WriteString("Validation rules (CEL, checked by the server):")
	for _, r := range rules {
		b.WriteString("\n- " + r)
	}
	s["description"] = b.String()
}

// lowerCamel is protojson's JSON name of a proto field name (policy_id -> policyId).
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}
