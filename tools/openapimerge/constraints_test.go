package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

func mustDoc(t *testing.T, s string) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCopyKeywords(t *testing.T) {
	cases := []struct {
		name     string
		dst, src string
		optional bool
		want     string
	}{
		{"required uuid", `{"type":"string"}`, `{"type":"string","pattern":"` + jsonEscape(uuidPattern) + `"}`, false,
			`{"type":"string","pattern":"` + jsonEscape(uuidPattern) + `","format":"uuid"}`},
		{"optional pattern lets the zero value through", `{"type":"string"}`, `{"type":"string","pattern":"^0x[0-9]{2}$"}`, true,
			`{"type":"string","anyOf":[{"const":""},{"pattern":"^0x[0-9]{2}$"}]}`},
		{"optional maxLength stays as is", `{"type":"string"}`, `{"type":"string","maxLength":64}`, true,
			`{"type":"string","maxLength":64}`},
		{"restricted enum keeps the reference", `{"$ref":"#/components/schemas/Chain"}`,
			`{"anyOf":[{"type":"string","enum":["CHAIN_POLYGON","CHAIN_ETHEREUM"]},{"type":"integer","minimum":1,"maximum":2}]}`, false,
			`{"$ref":"#/components/schemas/Chain","enum":["CHAIN_ETHEREUM","CHAIN_POLYGON"]}`},
		{"unrestricted enum is left alone", `{"$ref":"#/components/schemas/Country"}`,
			`{"anyOf":[{"type":"string","pattern":"^COUNTRY_UNSPECIFIED$"},{"type":"string","enum":["COUNTRY_NL"]}]}`, true,
			`{"$ref":"#/components/schemas/Country"}`},
		{"array items", `{"type":"array","items":{"type":"string"}}`,
			`{"type":"array","maxItems":50,"items":{"type":"string","pattern":"^a$"}}`, false,
			`{"type":"array","maxItems":50,"items":{"type":"string","pattern":"^a$"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := mustDoc(t, tc.dst)
			copyKeywords(dst, mustDoc(t, tc.src), tc.optional)
			if want := mustDoc(t, tc.want); !reflect.DeepEqual(dst, want) {
				got, _ := json.Marshal(dst)
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestOpenStructsAndRefSiblings(t *testing.T) {
	d := mustDoc(t, `{"a":{"type":"object","description":"Struct"},"b":{"type":"object","properties":{"x":{"type":"string"}}}}`)
	openStructs(d)
	if d["a"].(doc)["additionalProperties"] != true || d["b"].(doc)["additionalProperties"] != nil {
		t.Errorf("openStructs: %v", d)
	}
	v2 := mustDoc(t, `{"p":{"$ref":"#/definitions/X","description":"d","type":"object"},"q":{"$ref":"#/definitions/Y"}}`)
	fixRefSiblings(v2)
	want := mustDoc(t, `{"p":{"allOf":[{"$ref":"#/definitions/X"}],"description":"d"},"q":{"$ref":"#/definitions/Y"}}`)
	if !reflect.DeepEqual(v2, want) {
		t.Errorf("fixRefSiblings: %v", v2)
	}
}

func TestErrorStatuses(t *testing.T) {
	cases := []struct {
		path           string
		body, mutating bool
		want           []int
	}{
		{"/v1/quotes/{quote_id}", false, false, []int{400, 401, 403, 404, 429, 502, 503, 504}},
		{"/v1/quotes", true, true, []int{400, 401, 403, 409, 413, 422, 429, 502, 503, 504}},
		{"/v1/policies/{policy_id}:cancel", true, true, []int{400, 401, 403, 404, 409, 412, 413, 422, 429, 502, 503, 504}},
		{"/webhooks/avata", true, false, []int{400, 401, 403, 413, 429, 503}},
	}
	for _, tc := range cases {
		if got := errorStatuses(tc.path, "post", tc.body, tc.mutating); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
		for _, code := range tc.want {
			if statusNames[code] == "" || statusText[code] == "" {
				t.Errorf("status %d has no response component", code)
			}
		}
	}
}
