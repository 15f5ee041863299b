// A small fault-injecting provider for t/81-sdk.t: what llm_route_mock
// cannot show, a provider that fails a given number of times and then
// answers (every answer of the mock depends on the request alone).
//
//   node fault-provider.mjs PORT
//
//   POST .../chat/completions   the k-th request carrying "X-Fault-Key: K"
//                               gets the k-th status of "X-Fault-Plan:
//                               429,500,200" (200 once the plan ends): a
//                               429 with Retry-After: 1 and
//                               retry-after-ms: 20, a 5xx with an OpenAI
//                               error, a 200 with a chat.completion
//                               whose content is "fault provider"
//   POST .../responses          a Responses API stream that ends cleanly
//                               (the whole HTTP answer) after two text
//                               deltas, without response.completed: a
//                               cut the router must tell the client of
//   GET  /attempts?key=K        the requests seen with that key
//
// It stops when its standard input closes (the test ends).

import http from 'node:http';

const attempts = new Map();

const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let body = '';

    req.on('data', (d) => { body += d; });
    req.on('end', () => {
        if (req.method === 'GET' && url.pathname === '/attempts') {
            res.end(String(attempts.get(url.searchParams.get('key')) ?? 0));
            return;
        }

        if (url.pathname.endsWith('/responses')) {
            responses(res);
            return;
        }

        const key = req.headers['x-fault-key'] ?? '';
        const n = (attempts.get(key) ?? 0) + 1;
        const plan = (req.headers['x-fault-plan'] ?? '').split(',')
            .filter((s) => s !== '').map(Number);
        const status = plan[n - 1] ?? 200;

        attempts.set(key, n);

        let model = 'fault';

        try {
            model = JSON.parse(body).model ?? model;
        } catch {
            // not JSON: answered all the same
        }

        const headers = { 'content-type': 'application/json' };

        if (status === 200) {
            res.writeHead(200, headers);
            res.end(JSON.stringify({
                id: `chatcmpl-fault-${n}`, object: 'chat.completion',
                created: Math.floor(Date.now() / 1000), model,
                choices: [{ index: 0, finish_reason: 'stop', logprobs: null,
                            message: { role: 'assistant',
                                       content: 'fault provider' } }],
                usage: { prompt_tokens: 5, completion_tokens: 2,
                         total_tokens: 7 } }));
            return;
        }

        if (status === 429) {
            headers['retry-after'] = '1';
            headers['retry-after-ms'] = '20';
        }

        res.writeHead(status, headers);
        res.end(JSON.stringify({ error: {
            message: `fault provider: attempt ${n} gets ${status}`,
            type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
            param: null,
            code: status === 429 ? 'rate_limit_exceeded' : null } }));
    });
});

function responses(res) {
    const id = `resp_fault_${Date.now()}`;
    const response = { id, object: 'response', status: 'in_progress',
                       created_at: Math.floor(Date.now() / 1000),
                       model: 'flaky', output: [], usage: null };
    const events = [
        { type: 'response.created', response },
        { type: 'response.in_progress', response },
        { type: 'response.output_item.added', output_index: 0,
          item: { type: 'message', id: 'msg_1', status: 'in_progress',
                  role: 'assistant', content: [] } },
        { type: 'response.content_part.added', item_id: 'msg_1',
          output_index: 0, content_index: 0,
          part: { type: 'output_text', text: '', annotations: [] } },
        { type: 'response.output_text.delta', item_id: 'msg_1',
          output_index: 0, content_index: 0, delta: 'half an' },
        { type: 'response.output_text.delta', item_id: 'msg_1',
          output_index: 0, content_index: 0, delta: ' answer' },
    ];

    res.writeHead(200, { 'content-type': 'text/event-stream' });

    events.forEach((e, i) => {
        res.write(`event: ${e.type}\ndata: `
                  + JSON.stringify({ ...e, sequence_number: i }) + '\n\n');
    });

    res.end();
}

server.listen(Number(process.argv[2]), '127.0.0.1', () => {
    process.stdout.write('listening\n');
});

process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
