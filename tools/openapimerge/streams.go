package main

import "strings"

// Server-streaming routes are served as NDJSON (one `{"result":…}` or `{"error":…}` object per
// line), not as one JSON object as the generators declare them; the event log's watch route also
// serves Server-Sent Events (server/gateway/watch.go). declareStreams says so in both documents.
const (
	ndjsonType = "application/x-ndjson"
	sseType    = "text/event-stream"
	// sseRoute is the one streaming route that also serves Server-Sent Events.
	sseRoute = "/v1/events:watch"
)

const sseDescription = "With `Accept: text/event-stream`: Server-Sent Events. Each event has `id:` = the event's " +
	"cursor and `data:` = the Event as JSON; a reconnecting client's `Last-Event-ID` resumes right after that " +
	"cursor (it takes precedence over `after_cursor`). An idle stream sends a comment line periodically. An error " +
	"that ends a started stream is an event named `stream-error` whose data is a google.rpc.Status. " +
	"Otherwise: newline-delimited JSON, one `{\"result\":{...}}` per event, a last `{\"error\":{...}}` if the stream fails. " +
	"Headers are sent as soon as the stream is accepted; errors before that are ordinary `google.rpc.Status` answers."

var lastEventIDParam = doc{
	"name": "Last-Event-ID", "in": "header", "required": false,
	"description": "Server-Sent Events only: resume after this event cursor (sent by EventSource on reconnect).",
}

func declareStreams(d doc, version string) {
	paths, _ := d["paths"].(doc)
	for p, item := range paths {
		for _, op := range item.(doc) {
			o, ok := op.(doc)
			if !ok {
				continue
			}
			responses, _ := o["responses"].(doc)
			ok200, _ := responses["200"].(doc)
			desc, _ := ok200["description"].(string)
			if ok200 == nil || !strings.Contains(desc, "(streaming responses)") {
				continue
			}
			desc = strings.TrimSpace(strings.Replace(desc, "(streaming responses)", "", 1))
			sse := p == sseRoute
			if version == "3" {
				declareStreamV3(o, ok200, desc, sse)
			} else {
				declareStreamV2(o, ok200, desc, sse)
			}
		}
	}
}

func declareStreamV3(op, ok200 doc, desc string, sse bool) {
	content, _ := ok200["content"].(doc)
	var item any
	for _, c := range content {
		if m, ok := c.(doc); ok {
			item = m["schema"]
		}
	}
	newContent := doc{ndjsonType: doc{"schema": item}}
	ok200["description"] = desc + " A stream: one JSON object per line (NDJSON)."
	if sse {
		newContent[sseType] = doc{"schema": doc{"type": "string", "description": "Server-Sent Events; see the operation's description."}}
		ok200["description"] = desc + " A stream: NDJSON by default, Server-Sent Events with `Accept: text/event-stream`."
		param := copyDoc(lastEventIDParam)
		param["schema"] = doc{"type": "string", "pattern": "^[0-9]+$"}
		op["parameters"] = append(asSlice(op["parameters"]), param)
		op["description"] = strings.TrimSpace(orEmpty(op["description"]).(string) + "\n\n" + sseDescription)
	}
	ok200["content"] = newContent
}

func declareStreamV2(op, ok200 doc, desc string, sse bool) {
	produces := []any{ndjsonType}
	ok200["description"] = desc + " A stream: one JSON object per line (NDJSON)."
	if sse {
		produces = append(produces, sseType)
		ok200["description"] = desc + " A stream: NDJSON by default, Server-Sent Events with `Accept: text/event-stream`."
		param := copyDoc(lastEventIDParam)
		param["type"] = "string"
		op["parameters"] = append(asSlice(op["parameters"]), param)
		op["description"] = strings.TrimSpace(orEmpty(op["description"]).(string) + "\n\n" + sseDescription)
	}
	op["produces"] = produces
}

func copyDoc(d doc) doc {
	out := make(doc, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}
