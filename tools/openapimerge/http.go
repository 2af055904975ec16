package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// What protoc plugins cannot know about the HTTP side of the contract: the statuses an operation
// answers with (server/apierror maps gRPC codes and reasons to them), the headers the gateway
// reads and writes, and how each partner webhook is authenticated (server/webhook).

// webhookSecurity is the security requirement of each partner webhook route; the scheme names
// are declared in securitySchemesV3/V2.
var webhookSecurity = map[string][]any{
	// x-api-key always; x-etvas-signature too when the gateway has an Etvas event secret.
	"/etvas-events":        {doc{"etvasApiKey": []any{}, "etvasSignature": []any{}}, doc{"etvasApiKey": []any{}}},
	"/etvas/events":        {doc{"etvasApiKey": []any{}, "etvasSignature": []any{}}, doc{"etvasApiKey": []any{}}},
	"/webhooks/avata":      {doc{"avataSignature": []any{}}},
	"/webhooks/scalepoint": {doc{"scalepointBearer": []any{}}},
}

func isWebhook(path string) bool { return !strings.HasPrefix(path, "/v1/") }

// errorStatuses are the HTTP statuses an operation can answer with besides 2xx and 500.
func errorStatuses(path, method string, hasBody, mutating bool) []int {
	if isWebhook(path) {
		return []int{400, 401, 403, 413, 429, 503}
	}
	out := []int{400, 401, 403}
	if strings.Contains(path, "{") || strings.Contains(path, "/v1/external-data/") {
		out = append(out, 404)
	}
	if mutating {
		// 409: the resource exists, or a request with the same Idempotency-Key is in flight;
		// 412: a state change raced another one (ETAG_MISMATCH); 422: Idempotency-Key reused.
		out = append(out, 409)
		if strings.Contains(path, "{") {
			out = append(out, 412)
		}
	}
	if hasBody {
		out = append(out, 413)
	}
	if mutating {
		out = append(out, 422)
	}
	// 502: a partner answered something the gateway cannot use (PARTNER_BAD_RESPONSE).
	return append(out, 429, 502, 503, 504)
}

var statusNames = map[int]string{
	400: "BadRequest", 401: "Unauthenticated", 403: "PermissionDenied", 404: "NotFound",
	409: "Conflict", 412: "PreconditionFailed", 413: "PayloadTooLarge", 422: "IdempotencyKeyReused",
	429: "TooManyRequests", 500: "InternalError", 502: "BadGateway", 503: "Unavailable", 504: "GatewayTimeout",
}

var statusText = map[int]string{
	400: "Invalid request: `VALIDATION_FAILED` (with a `google.rpc.BadRequest`), `MALFORMED_REQUEST`, `INVALID_STATE`, or a partner's refusal.",
	401: "No or unknown credentials (`UNAUTHENTICATED`, `WEBHOOK_UNAUTHENTICATED`, `WEBHOOK_SIGNATURE_MISSING`).",
	403: "The credentials lack the scope the operation needs (`PERMISSION_DENIED`) or a webhook signature does not match (`WEBHOOK_SIGNATURE_INVALID`).",
	404: "The resource does not exist (`NOT_FOUND`, `PARTNER_NOT_FOUND`).",
	409: "The resource already exists or a request with the same Idempotency-Key is still running (`ALREADY_EXISTS`, `IDEMPOTENCY_KEY_IN_USE`, `PARTNER_CONFLICT`).",
	412: "The resource changed in between (`ETAG_MISMATCH`): read it again and retry.",
	413: "The body exceeds the route's limit (`PAYLOAD_TOO_LARGE`, metadata `limit_bytes`).",
	422: "The Idempotency-Key was used before with a different request (`IDEMPOTENCY_KEY_REUSED`).",
	429: "Too many requests (`RATE_LIMITED`, `PARTNER_RATE_LIMITED`): retry after the delay in `google.rpc.RetryInfo` or `Retry-After`.",
	500: "An unexpected fault (`INTERNAL`); the request and trace ids in the ErrorInfo metadata locate it in the logs.",
	502: "A partner answered something the gateway cannot use (`PARTNER_BAD_RESPONSE`, metadata `partner`).",
	503: "The gateway or a partner is unavailable (`UNAVAILABLE`, `PARTNER_UNAVAILABLE`, `PARTNER_CIRCUIT_OPEN`): retry later.",
	504: "The deadline passed before the gateway or the partner answered (`PARTNER_TIMEOUT`).",
}

// decorateHTTPV3 declares errors, headers, security and servers in the OpenAPI 3.1 document.
func decorateHTTPV3(d doc, c *contract) {
	comps := d["components"].(doc)
	schemas := comps["schemas"].(doc)
	for name, s := range statusSchemasV3(c.reasons) {
		schemas[name] = s
	}
	comps["securitySchemes"] = securitySchemesV3()
	comps["headers"] = doc{"X-Request-Id": doc{
		"description": "The request id (the caller's `X-Request-Id` when it sent a valid one, else generated); it is in every log line and error of the request.",
		"schema":      doc{"type": "string"},
	}}
	comps["parameters"] = doc{"IdempotencyKey": doc{
		"name": "Idempotency-Key", "in": "header", "required": false,
		"description": "Makes the call safe to retry: a retry with the same key returns the first result; the same key with a different request is refused with 422. Printable ASCII, at most 255 characters.",
		"schema":      doc{"type": "string", "minLength": 1, "maxLength": 255},
	}}
	responses := doc{}
	for code, name := range statusNames {
		responses[name] = doc{
			"description": statusText[code],
			"headers":     doc{"X-Request-Id": doc{"$ref": "#/components/headers/X-Request-Id"}},
			"content":     doc{"application/json": doc{"schema": doc{"$ref": "#/components/schemas/google.rpc.Status"}}},
		}
	}
	comps["responses"] = responses
	walkOperations(d, func(path, method string, op doc) {
		mutating := !isWebhook(path) && isMutating(c.scopes[fmt.Sprint(op["operationId"])])
		if mutating {
			op["parameters"] = append(asSlice(op["parameters"]), doc{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		rs, _ := op["responses"].(doc)
		for code, r := range rs {
			if code == "default" {
				continue
			}
			if resp, ok := r.(doc); ok && resp["$ref"] == nil {
				headers, _ := resp["headers"].(doc)
				if headers == nil {
					headers = doc{}
				}
				headers["X-Request-Id"] = doc{"$ref": "#/components/headers/X-Request-Id"}
				resp["headers"] = headers
			}
		}
		delete(rs, "default")
		for _, code := range errorStatuses(path, method, op["requestBody"] != nil, mutating) {
			rs[strconv.Itoa(code)] = doc{"$ref": "#/components/responses/" + statusNames[code]}
		}
		rs["500"] = doc{"$ref": "#/components/responses/InternalError"}
		if sec, ok := webhookSecurity[path]; ok {
			op["security"] = sec
			describeWebhook(path, op)
		}
	})
	d["servers"] = []any{doc{"url": "/", "description": "The gateway that serves this document (its HTTP listener)."}}
}

// webhookDescription says who calls a webhook route and how it is authenticated.
var webhookDescription = map[string]string{
	"/etvas-events":        "Etvas portal events (called by Etvas). Authenticated by `x-api-key` and, when the gateway has an Etvas event secret, `x-etvas-signature` (HMAC-SHA256 of the raw body).",
	"/etvas/events":        "Etvas App events (called by Etvas). Authenticated by `x-api-key` and, when the gateway has an Etvas event secret, `x-etvas-signature` (HMAC-SHA256 of the raw body).",
	"/webhooks/avata":      "Avata callbacks (called by Avata). Authenticated by `X-Avata-Signature` (HMAC-SHA256 of the raw body).",
	"/webhooks/scalepoint": "Scalepoint events (called by Scalepoint). Authenticated by `Authorization: Bearer <token>`.",
}

func describeWebhook(path string, op doc) {
	if text, ok := webhookDescription[path]; ok {
		op["description"] = strings.TrimSpace(fmt.Sprint(orEmpty(op["description"])) + "\n\n" + text)
	}
}

// isMutating mirrors server/idempotency: every covered RPC whose scope is not a read scope.
func isMutating(scope string) bool { return scope != "" && !strings.HasSuffix(scope, ".read") }

func securitySchemesV3() doc {
	return doc{
		"bearerAuth": doc{
			"type": "http", "scheme": "bearer",
			"description": "An API key from COVERGATE_API_KEYS, sent as `Authorization: Bearer <key>`.",
		},
		"etvasApiKey": doc{
			"type": "apiKey", "in": "header", "name": "x-api-key",
			"description": "Etvas webhooks: the API key shared with Etvas (COVERGATE_ETVAS_API_KEY).",
		},
		"etvasSignature": doc{
			"type": "apiKey", "in": "header", "name": "x-etvas-signature",
			"description": "Etvas webhooks: hex HMAC-SHA256 of the raw body with the event secret; required when the gateway has one.",
		},
		"avataSignature": doc{
			"type": "apiKey", "in": "header", "name": "X-Avata-Signature",
			"description": "Avata callbacks: hex HMAC-SHA256 of the raw body with the callback secret.",
		},
		"scalepointBearer": doc{
			"type": "http", "scheme": "bearer",
			"description": "Scalepoint event webhooks: the bearer token configured for Scalepoint's calls.",
		},
	}
}

// statusSchemasV3 is google.rpc.Status with typed details: a oneOf of the google.rpc error
// details, told apart by `@type`, and ErrorInfo.reason as the enum of ErrorReason values.
func statusSchemasV3(reasons []string) doc {
	ref := func(n string) doc { return doc{"$ref": "#/components/schemas/" + n} }
	typed := func(name, desc string, props doc, required ...string) doc {
		props["@type"] = doc{"type": "string", "const": "type.googleapis.com/" + name}
		return doc{"type": "object", "description": desc, "properties": props, "required": append([]any{"@type"}, anySlice(required)...)}
	}
	str := func(desc string) doc { return doc{"type": "string", "description": desc} }
	reasonEnum := make([]any, 0, len(reasons))
	for _, r := range reasons {
		reasonEnum = append(reasonEnum, r)
	}
	details := []string{"google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo", "google.rpc.QuotaFailure",
		"google.rpc.PreconditionFailure", "google.rpc.ResourceInfo", "google.rpc.Help", "google.rpc.LocalizedMessage"}
	oneOf := make([]any, 0, len(details))
	mapping := doc{}
	for _, n := range details {
		oneOf = append(oneOf, ref(n))
		mapping["type.googleapis.com/"+n] = "#/components/schemas/" + n
	}
	return doc{
		"google.rpc.Status": doc{
			"type":        "object",
			"description": "Every error: the gRPC status as JSON. `details` always holds one `google.rpc.ErrorInfo` (switch on its `reason`); invalid input adds a `google.rpc.BadRequest`.",
			"required":    []any{"code", "message"},
			"properties": doc{
				"code":    doc{"type": "integer", "format": "int32", "description": "The gRPC status code (google.rpc.Code)."},
				"message": str("A developer-facing message in English; not for display, not to parse."),
				"details": doc{"type": "array", "description": "Typed error details.", "items": doc{
					"oneOf":         oneOf,
					"discriminator": doc{"propertyName": "@type", "mapping": mapping},
				}},
			},
		},
		"google.rpc.ErrorInfo": typed("google.rpc.ErrorInfo", "Why the call failed, for machines (AIP-193).", doc{
			"reason":   doc{"type": "string", "enum": reasonEnum, "description": "The ErrorReason value without its `ERROR_REASON_` prefix; clients switch on it."},
			"domain":   doc{"type": "string", "const": "covergate.insurance.v1", "description": "The service that defines the reasons."},
			"metadata": doc{"type": "object", "additionalProperties": doc{"type": "string"}, "description": "Context such as `request_id`, `trace_id`, `partner`, `resource`."},
		}, "reason", "domain"),
		"google.rpc.BadRequest": typed("google.rpc.BadRequest", "Every invalid field of the request.", doc{
			"fieldViolations": doc{"type": "array", "items": ref("google.rpc.BadRequest.FieldViolation")},
		}),
		"google.rpc.BadRequest.FieldViolation": doc{"type": "object", "description": "One invalid field.", "properties": doc{
			"field":       str("Path of the field in proto names, e.g. `total_value.amount`; empty for a rule on the whole message."),
			"description": str("What is wrong, in words."),
			"reason":      doc{"type": "string", "pattern": "^[A-Z0-9_]*$", "description": "The rule in UPPER_SNAKE_CASE, e.g. `STRING_UUID`, `REQUIRED`."},
		}},
		"google.rpc.RetryInfo": typed("google.rpc.RetryInfo", "When to retry.", doc{
			"retryDelay": doc{"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$", "description": "A google.protobuf.Duration such as `1.5s`."},
		}),
		"google.rpc.QuotaFailure": typed("google.rpc.QuotaFailure", "Which quota was exceeded.", doc{
			"violations": doc{"type": "array", "items": doc{"type": "object", "properties": doc{"subject": str("What the quota applies to."), "description": str("How it was exceeded.")}}},
		}),
		"google.rpc.PreconditionFailure": typed("google.rpc.PreconditionFailure", "Which preconditions failed.", doc{
			"violations": doc{"type": "array", "items": doc{"type": "object", "properties": doc{"type": str("Kind of precondition."), "subject": str("What failed."), "description": str("How.")}}},
		}),
		"google.rpc.ResourceInfo": typed("google.rpc.ResourceInfo", "The resource the error is about.", doc{
			"resourceType": str("Type of the resource."), "resourceName": str("Its name."), "owner": str("Its owner."), "description": str("What is wrong with it."),
		}),
		"google.rpc.Help": typed("google.rpc.Help", "Links to documentation.", doc{
			"links": doc{"type": "array", "items": doc{"type": "object", "properties": doc{"description": str("What the link explains."), "url": doc{"type": "string", "format": "uri"}}}},
		}),
		"google.rpc.LocalizedMessage": typed("google.rpc.LocalizedMessage", "A message for the end user.", doc{
			"locale": str("BCP-47 locale."), "message": str("The message."),
		}),
	}
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// decorateHTTPV2 gives the OpenAPI v2 document the same security and headers where Swagger 2
// can say them, and turns `$ref` properties with sibling keywords (ignored by Swagger 2 and an
// error for linters) into `allOf` wrappers that keep the description.
func decorateHTTPV2(d doc, c *contract) {
	defs, _ := d["securityDefinitions"].(doc)
	if defs == nil {
		defs = doc{}
	}
	for name, s := range securitySchemesV3() {
		sd := s.(doc)
		if sd["type"] == "http" {
			defs[name] = doc{"type": "apiKey", "in": "header", "name": "Authorization", "description": fmt.Sprint(sd["description"]) + " Sent as `Bearer <token>`."}
			continue
		}
		defs[name] = sd
	}
	d["securityDefinitions"] = defs
	walkOperations(d, func(path, method string, op doc) {
		if sec, ok := webhookSecurity[path]; ok {
			op["security"] = sec
			describeWebhook(path, op)
		}
		if !isWebhook(path) && isMutating(c.scopes[fmt.Sprint(op["operationId"])]) {
			op["parameters"] = append(asSlice(op["parameters"]), doc{
				"name": "Idempotency-Key", "in": "header", "required": false, "type": "string", "maxLength": 255,
				"description": "Makes the call safe to retry: a retry with the same key returns the first result.",
			})
		}
		rs, _ := op["responses"].(doc)
		codes := make([]string, 0, len(rs))
		for code := range rs {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			resp, _ := rs[code].(doc)
			if resp == nil {
				continue
			}
			resp["headers"] = doc{"X-Request-Id": doc{"type": "string", "description": "The request id, also in the logs and in error metadata."}}
		}
		if _, ok := rs["default"]; ok {
			for _, code := range errorStatuses(path, method, hasBodyParamV2(op), !isWebhook(path) && isMutating(c.scopes[fmt.Sprint(op["operationId"])])) {
				rs[strconv.Itoa(code)] = doc{"description": http.StatusText(code) + ": " + statusText[code], "schema": doc{"$ref": "#/definitions/rpcStatus"}}
			}
		}
	})
	fixRefSiblings(d)
	dropUnusedDefinitions(d)
}

// dropUnusedDefinitions removes definitions nothing refers to (protoc-gen-openapiv2 emits
// google.protobuf.NullValue although no field of ours uses it).
func dropUnusedDefinitions(d doc) {
	defs, _ := d["definitions"].(doc)
	for {
		raw, _ := json.Marshal(d)
		removed := false
		for name := range defs {
			if !strings.Contains(string(raw), `"#/definitions/`+name+`"`) {
				delete(defs, name)
				removed = true
			}
		}
		if !removed {
			return
		}
	}
}

func hasBodyParamV2(op doc) bool {
	for _, p := range asSlice(op["parameters"]) {
		if pd, _ := p.(doc); pd["in"] == "body" {
			return true
		}
	}
	return false
}

// fixRefSiblings rewrites {"$ref": x, k: v...} as {"allOf": [{"$ref": x}], k: v...} (Swagger 2
// ignores every sibling of $ref). A "type" sibling is dropped: the referenced schema has one.
func fixRefSiblings(v any) {
	switch t := v.(type) {
	case doc:
		if ref, ok := t["$ref"]; ok && len(t) > 1 {
			delete(t, "$ref")
			delete(t, "type")
			if len(t) > 0 {
				t["allOf"] = []any{doc{"$ref": ref}}
			} else {
				t["$ref"] = ref
			}
		}
		for _, c := range t {
			fixRefSiblings(c)
		}
	case []any:
		for _, c := range t {
			fixRefSiblings(c)
		}
	}
}
