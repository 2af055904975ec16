#!/usr/bin/env python3
"""Extracts the JSON examples of the partner documents (saved copies of the partners' public
documentation, in the directory given as the only argument) into Go fuzz seed corpora (testdata/fuzz/<Target>/) next to the
code each target fuzzes. Run from the repository root; the corpora are committed, so this runs
only when a partner document changes."""
import json, os, re, sys, hashlib

if len(sys.argv) != 2:
    sys.exit("usage: extract.py DIR  (DIR holds text copies of the partners' public documents: "
             "https://www.etvas.com/developers, https://documentation.demo.avata.gg, "
             "https://dev.scalepoint.com/events-api-integration-from-clients-to-scalepoint)")
docs = sys.argv[1]

def objects(path):
    """Balanced top-level {...} blocks that parse as JSON (ReDoc's '- ' list markers removed)."""
    text = open(path, encoding="utf-8").read()
    text = text.replace("\u00a0", " ")
    text = re.sub(r"\{- ", "{", text)
    text = re.sub(r"(?m)^(\s*)- ", r"\1", text)
    out, depth, start, in_str, esc = [], 0, None, False, False
    for i, c in enumerate(text):
        if in_str:
            if esc: esc = False
            elif c == "\\": esc = True
            elif c == '"': in_str = False
            continue
        if c == '"' and depth > 0: in_str = True
        elif c == "{":
            if depth == 0: start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                block = text[start:i + 1]
                try:
                    json.loads(block)
                    out.append(block)
                except ValueError:
                    pass
    return out

def write(dirpath, values, extra=()):
    """One corpus file per value: the []byte argument, then the target's other arguments."""
    os.makedirs(dirpath, exist_ok=True)
    for v in values:
        lit = json.dumps(v, ensure_ascii=False)  # a valid Go interpreted string literal here
        name = "doc-" + hashlib.sha256(v.encode()).hexdigest()[:16]
        with open(os.path.join(dirpath, name), "w", encoding="utf-8") as f:
            f.write("go test fuzz v1\n[]byte(" + lit + ")\n" + "".join(e + "\n" for e in extra))

app = objects(os.path.join(docs, "etvas-app.md"))
portal = objects(os.path.join(docs, "etvas-developer-portal.txt"))
avata = objects(os.path.join(docs, "avata-api.txt"))
scalepoint = objects(os.path.join(docs, "scalepoint-eventapi.txt"))
callbacks = [o for o in avata if '"eventType"' in o]

write("server/webhook/testdata/fuzz/FuzzEtvasAppDecode", app)
write("server/webhook/testdata/fuzz/FuzzEtvasPortalDecode", portal)
write("server/webhook/testdata/fuzz/FuzzAvataCallbackDecode", callbacks or avata)
write("server/webhook/testdata/fuzz/FuzzScalepointEventDecode", scalepoint)
# FuzzVerifierMiddleware(body, route, sigMode, header): route 0 App, 1 portal, 2 Avata,
# 3 Scalepoint; sigMode 0 = correctly signed.
mw = "server/webhook/testdata/fuzz/FuzzVerifierMiddleware"
for route, docs_ in enumerate([app, portal, callbacks, scalepoint]):
    write(mw, docs_, ("uint8(%d)" % route, "uint8(0)", 'string("")'))
write("server/partners/avata/testdata/fuzz/FuzzParseCallback", callbacks)
write("server/partners/scalepoint/testdata/fuzz/FuzzParseEvent", scalepoint)
write("server/partners/etvas/testdata/fuzz/FuzzVerifyWebhookSignature", app + portal, ('string("")',))
write("server/partners/avata/testdata/fuzz/FuzzVerifyCallbackSignature", callbacks, ('string("")',))
print("app %d, portal %d, avata %d (callbacks %d), scalepoint %d" % (len(app), len(portal), len(avata), len(callbacks), len(scalepoint)))
