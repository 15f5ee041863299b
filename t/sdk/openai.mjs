// openai-node against the router (t/81-sdk.t): node openai.mjs PACKAGE
// LABEL, PACKAGE "openai" (the current major) or "openai6" (the one
// before).

import { z } from 'zod';
import { URL_V1, ROOT, WORDS, MESSAGES, setLabel, check, is, section,
         throws, status, modelStats, waitStats, faultAttempts, uniq, sleep }
    from './lib.mjs';

const [pkg, label] = process.argv.slice(2);
setLabel(label);

const { default: OpenAI, NotFoundError, BadRequestError, RateLimitError,
        APIUserAbortError } = await import(pkg);
const { zodResponseFormat, zodTextFormat, zodFunction } =
    await import(`${pkg}/helpers/zod`);

const client = new OpenAI({ baseURL: URL_V1, apiKey: 'sk-client' });

const Weather = z.object({
    city: z.string(),
    unit: z.enum(['celsius', 'fahrenheit']),
    days: z.number().int().min(1).max(7),
    when: z.string().datetime(),
    hourly: z.boolean(),
    spots: z.array(z.object({ lat: z.number().min(-90).max(90) })),
    note: z.string().nullable(),
});

// ---- chat -------------------------------------------------------------------

await section('chat JSON', async () => {
    const r = await client.chat.completions.create({
        model: 'gpt-4o-mini', messages: MESSAGES });
    is('chat JSON: the answer', r.choices[0].message.content, WORDS);
    is('chat JSON: finish_reason', r.choices[0].finish_reason, 'stop');
    check('chat JSON: usage', r.usage.prompt_tokens > 0
          && r.usage.completion_tokens === WORDS.split(' ').length, r.usage);
});

for (const includeUsage of [false, true]) {
    const name = `chat stream, include_usage ${includeUsage}`;

    await section(name, async () => {
        const stream = await client.chat.completions.create({
            model: 'gpt-4o-mini', messages: MESSAGES, stream: true,
            ...(includeUsage ? { stream_options: { include_usage: true } }
                             : {}) });
        let text = '', usage = [], finish = null, chunks = 0;

        for await (const c of stream) {
            chunks++;
            text += c.choices[0]?.delta?.content ?? '';
            finish = c.choices[0]?.finish_reason ?? finish;

            if (c.usage) {
                usage.push(c.usage);
            }
        }

        is(`${name}: the text`, text, WORDS);
        is(`${name}: finish_reason`, finish, 'stop');
        check(`${name}: ${includeUsage ? 'one usage chunk' : 'no usage'}`,
              usage.length === (includeUsage ? 1 : 0), usage);

        if (includeUsage) {
            is(`${name}: completion tokens`, usage[0]?.completion_tokens,
               WORDS.split(' ').length);
        }
    });
}

await section('chat stream helper', async () => {
    const r = await client.chat.completions.stream({
        model: 'gpt-4o-mini', messages: MESSAGES }).finalChatCompletion();
    is('chat.completions.stream().finalChatCompletion()',
       r.choices[0].message.content, WORDS);
});

// ---- responses ----------------------------------------------------------------

await section('responses JSON', async () => {
    const r = await client.responses.create({
        model: 'gpt-4o-mini', input: 'Say hello', instructions: 'Be terse.' });
    is('responses JSON: output_text', r.output_text, WORDS);
    is('responses JSON: status', r.status, 'completed');
    check('responses JSON: usage', r.usage.input_tokens > 0
          && r.usage.output_tokens === WORDS.split(' ').length, r.usage);
});

await section('responses stream', async () => {
    const stream = client.responses.stream({
        model: 'gpt-4o-mini', input: 'Say hello' });
    let deltas = '';

    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });

    const r = await stream.finalResponse();
    is('responses.stream().finalResponse(): completed', r.status,
       'completed');
    is('responses.stream().finalResponse(): output_text', r.output_text,
       WORDS);
    is('responses.stream(): the deltas', deltas, WORDS);
    check('responses.stream(): usage', r.usage?.output_tokens
          === WORDS.split(' ').length, r.usage);
});

await section('responses stream, events', async () => {
    const stream = await client.responses.create({
        model: 'gpt-4o-mini', input: 'Say hello', stream: true });
    const types = [];

    for await (const e of stream) {
        types.push(e.type);
    }

    is('responses create({stream}): ends with response.completed',
       types.at(-1), 'response.completed');
    check('responses create({stream}): no error event',
          !types.includes('error'), types);
});

await section('responses stream cut', async () => {
    // the fault provider ends its stream cleanly after two deltas: only
    // the router's error event tells the client
    await throws('responses.stream() of a cut stream throws', () =>
        client.responses.stream({ model: 'flaky', input: 'Say hello' })
            .finalResponse(),
        OpenAI.APIError, (e) => is('... the error is stream_interrupted',
                                   e.code, 'stream_interrupted'));

    // the mock closes the connection after two deltas
    await throws('responses.stream() of a dropped connection throws', () =>
        client.responses.stream({ model: 'gpt-4o-mini', input: 'Say hello' },
            { headers: { 'X-Mock-Cut': '2' } }).finalResponse());
});

// ---- embeddings, models ------------------------------------------------------

await section('embeddings', async () => {
    const input = ['alpha', 'beta gamma'];
    const b64 = await client.embeddings.create({
        model: 'text-embedding-3-small', input });          // base64 asked
    const flt = await client.embeddings.create({
        model: 'text-embedding-3-small', input, encoding_format: 'float' });

    is('embeddings: two', b64.data.length, 2);
    check('embeddings (the SDK asks base64): 8 numbers each',
          b64.data.every((d) => Array.isArray(d.embedding)
                                && d.embedding.length === 8), b64.data);
    check('embeddings float: 8 numbers each',
          flt.data.every((d) => d.embedding.length === 8), flt.data);
    check('embeddings: base64 decodes to the float answer',
          b64.data.every((d, i) => d.embedding.every((v, k) =>
              Math.abs(v - flt.data[i].embedding[k]) < 1e-6)),
          { b64: b64.data[0].embedding, flt: flt.data[0].embedding });
    check('embeddings: usage', flt.usage.prompt_tokens > 0, flt.usage);
});

await section('models', async () => {
    const ids = [];

    for await (const m of client.models.list()) {
        ids.push(m.id);
    }

    check('models.list(): models and policies',
          ids.includes('gpt-4o') && ids.includes('auto'), ids);

    const m = await client.models.retrieve('gpt-4o');
    is('models.retrieve()', { id: m.id, object: m.object, owned_by: m.owned_by },
       { id: 'gpt-4o', object: 'model', owned_by: 'mock' });

    await throws('models.retrieve(unknown): NotFoundError',
                 () => client.models.retrieve('gpt-5-nope'), NotFoundError);
});

// ---- tools, structured outputs -----------------------------------------------

await section('tools', async () => {
    const r = await client.chat.completions.create({
        model: 'gpt-4o-mini', messages: MESSAGES,
        tools: [zodFunction({ name: 'get_weather', parameters: Weather })],
        tool_choice: 'required' });
    const call = r.choices[0].message.tool_calls?.[0];

    is('tools: finish_reason tool_calls', r.choices[0].finish_reason,
       'tool_calls');
    is('tools: the function', call?.function?.name, 'get_weather');
    check('tools: arguments the zod schema accepts',
          Weather.safeParse(JSON.parse(call.function.arguments)).success,
          call.function.arguments);

    const p = await client.chat.completions.parse({
        model: 'gpt-4o-mini', messages: MESSAGES,
        tools: [zodFunction({ name: 'get_weather', parameters: Weather })],
        tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    check('chat.completions.parse(): parsed_arguments',
          p.choices[0].message.tool_calls[0].function.parsed_arguments?.city
          !== undefined, p.choices[0].message);
});

await section('tools, streamed', async () => {
    const r = await client.chat.completions.stream({
        model: 'gpt-4o-mini', messages: MESSAGES,
        tools: [zodFunction({ name: 'get_weather', parameters: Weather })],
        tool_choice: 'required' }).finalChatCompletion();
    const args = r.choices[0].message.tool_calls?.[0]?.function?.arguments;

    check('tools streamed: the joined arguments parse',
          Weather.safeParse(JSON.parse(args)).success, args);
});

await section('structured outputs', async () => {
    const r = await client.chat.completions.parse({
        model: 'gpt-4o-mini', messages: MESSAGES,
        response_format: zodResponseFormat(Weather, 'weather') });
    check('chat.completions.parse(): message.parsed',
          Weather.safeParse(r.choices[0].message.parsed).success,
          r.choices[0].message);

    const j = await client.chat.completions.create({
        model: 'gpt-4o-mini', messages: MESSAGES,
        response_format: { type: 'json_object' } });
    check('json_object: a JSON object',
          typeof JSON.parse(j.choices[0].message.content) === 'object',
          j.choices[0].message.content);

    const s = await client.responses.parse({
        model: 'gpt-4o-mini', input: 'weather?',
        text: { format: zodTextFormat(Weather, 'weather') } });
    check('responses.parse(): output_parsed',
          Weather.safeParse(s.output_parsed).success, s.output_text);

    const t = await client.responses.create({
        model: 'gpt-4o-mini', input: 'weather?', tool_choice: 'required',
        tools: [{ type: 'function', name: 'get_weather', strict: true,
                  parameters: z.toJSONSchema(Weather) }] });
    const call = t.output.find((o) => o.type === 'function_call');
    check('responses tools: a function_call the schema accepts',
          call && Weather.safeParse(JSON.parse(call.arguments)).success,
          t.output);
});

// ---- the auto policy, trace headers ------------------------------------------

await section('auto', async () => {
    const { data, response } = await client.chat.completions.create({
        model: 'auto', messages: MESSAGES }).withResponse();
    const model = response.headers.get('x-llm-route-model');

    check('auto: X-LLM-Route-Model is a candidate',
          ['gpt-4o-mini', 'gpt-4o'].includes(model), model);
    is('auto: X-LLM-Route-Provider', response.headers.get('x-llm-route-provider'),
       'mock');
    check('auto: X-LLM-Route-Task and -Reason',
          response.headers.get('x-llm-route-task')
          && response.headers.get('x-llm-route-reason'),
          [...response.headers]);
    is('auto: the answer names the routed model', data.model, model);
});

// ---- errors ------------------------------------------------------------------

await section('errors', async () => {
    await throws('unknown model: NotFoundError', () =>
        client.chat.completions.create({ model: 'no-such-model',
                                         messages: MESSAGES }),
        NotFoundError, (e) => is('unknown model: code', e.code,
                                 'model_not_found'));

    await throws('no messages: BadRequestError', () =>
        client.chat.completions.create({ model: 'gpt-4o-mini' }),
        BadRequestError, (e) => is('no messages: status', e.status, 400));

    // llm_route_rate rpm=1: the second request of a team is refused
    const team = uniq('rpm');
    const limited = new OpenAI({ baseURL: `${ROOT}/limited/v1`,
                                 apiKey: 'sk-client', maxRetries: 0,
                                 defaultHeaders: { 'X-Team': team } });

    await limited.chat.completions.create({ model: 'gpt-4o-mini',
                                           messages: MESSAGES });
    await throws('rate limit, maxRetries 0: RateLimitError', () =>
        limited.chat.completions.create({ model: 'gpt-4o-mini',
                                         messages: MESSAGES }),
        RateLimitError, (e) => {
            is('rate limit: code', e.code, 'rate_limit_exceeded');
            // the sliding window of rpm=1: the next minute at most
            check('rate limit: Retry-After, at most two minutes',
                  Number(e.headers.get('retry-after')) > 0
                  && Number(e.headers.get('retry-after')) <= 120,
                  e.headers.get('retry-after'));
        });

    // a provider's 429 with Retry-After, then 200: the SDK retries
    const key = uniq('flaky');
    const r = await client.chat.completions.create(
        { model: 'flaky', messages: MESSAGES },
        { headers: { 'X-Fault-Key': key, 'X-Fault-Plan': '429,200' } });
    is('provider 429 then 200: the SDK retried and got the answer',
       r.choices[0].message.content, 'fault provider');
    is('provider 429 then 200: two attempts', await faultAttempts(key), 2);

    // a spent budget: not retried (x-should-retry: false); openai-node 6
    // sleeps for any Retry-After (hours): the check gives up after 1 s
    const bkey = uniq('budget');
    const budget = new OpenAI({ baseURL: `${ROOT}/budget/v1`,
                                apiKey: 'sk-client', maxRetries: 2,
                                defaultHeaders: { 'X-Team': bkey } });

    await budget.chat.completions.create({ model: 'gpt-4o-mini',
                                          messages: MESSAGES });
    const first = budget.chat.completions.create({ model: 'gpt-4o-mini',
                                                  messages: MESSAGES })
        .then(() => 'answered', (e) => e);
    const e = await Promise.race([first, sleep(1000).then(() => 'waiting')]);

    check('budget refusal: RateLimitError within 1 s (not retried)',
          e instanceof RateLimitError, String(e));
    is('budget refusal: x-should-retry false',
       e?.headers?.get?.('x-should-retry') ?? null, 'false');

    const rejected = Object.values((await status()).budgets ?? {})
        .filter((b) => b.key === bkey).map((b) => b.rejected);
    is('budget refusal: refused once (the SDK did not retry)', rejected, [1]);
});

// ---- abort -------------------------------------------------------------------

await section('abort mid-stream', async () => {
    const model = 'slow-model';
    const before = await modelStats(model);
    const stream = await client.chat.completions.create({
        model, messages: MESSAGES, stream: true, max_tokens: 100 });
    let text = '';

    // openai-node ends the loop quietly on its own abort
    for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';

        if (text.split(' ').length >= 3) {
            stream.controller.abort();
        }
    }

    check('abort mid-stream: the loop ended early',
          text.split(' ').length < 100, text);

    const after = await waitStats(model,
                                  (s) => s.requests > before.requests);
    is('abort mid-stream: counted once', after.requests - before.requests, 1);
    check('abort mid-stream: the streamed text is charged',
          after.completion_tokens - before.completion_tokens >= 1
          && after.cost_usd > before.cost_usd,
          { before, after, text });
});

await section('abort before the answer', async () => {
    const model = 'late-model';
    const before = await modelStats(model);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);

    await throws('abort before the answer: APIUserAbortError', () =>
        client.chat.completions.create({ model, messages: MESSAGES,
                                         stream: true, max_tokens: 100 },
                                       { signal: ac.signal }),
        APIUserAbortError);

    const after = await waitStats(model,
                                  (s) => s.requests > before.requests);
    is('abort before the answer: counted once',
       after.requests - before.requests, 1);
    // late-model costs $1000 per 1M output tokens: 100 reserved = $0.1
    check('abort before the answer: charged its reservation estimate',
          after.cost_usd - before.cost_usd >= 0.1, { before, after });
});

// a refused call of openai-node 6 may still sleep on its Retry-After
process.exit(0);
