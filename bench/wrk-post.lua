-- wrk script: POST the file $LLR_BODY as a JSON chat request.
-- $LLR_HEADERS: extra headers, "Name: value" separated by "|".
-- done() prints one machine-readable RESULT line.

local f = assert(io.open(os.getenv("LLR_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"

local extra = os.getenv("LLR_HEADERS") or ""
for h in string.gmatch(extra, "[^|]+") do
    local k, v = string.match(h, "^%s*([^:]+):%s*(.-)%s*$")
    if k then wrk.headers[k] = v end
end

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
        "non2xx=%d sockerr=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        e.status, e.connect + e.read + e.write + e.timeout))
end
