// Preloaded into Portkey's gateway (node --import) by bench/run.sh.
// Portkey 1.15.2 on Node answers every "stream": true request with
// HTTP 500: it appends its x-portkey-* headers to the upstream's fetch()
// Response, whose headers Node's fetch makes immutable ("TypeError:
// immutable" in ResponseService.updateHeaders; Portkey-AI/gateway#1389,
// #1550).  This gives a streamed (text/event-stream) upstream answer a
// new Response around the same body stream, with headers Portkey may
// change.  Other answers are returned untouched, so the JSON cells
// measure Portkey exactly as before; a stream costs Portkey one more
// Response object (the body is not copied).
const fetchOrig = globalThis.fetch;

globalThis.fetch = async function (...args) {
    const r = await fetchOrig.apply(this, args);
    const type = r.headers.get("content-type") || "";

    if (!type.startsWith("text/event-stream")) {
        return r;
    }

    return new Response(r.body, {
        status: r.status,
        statusText: r.statusText,
        headers: r.headers,
    });
};
