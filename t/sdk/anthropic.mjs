// @anthropic-ai/sdk against an Anthropic Messages endpoint: llm_route_mock
// directly, or the router in front of a provider (t/84-sdk-anthropic.t).
//
//   node anthropic.mjs LABEL
//
// Environment (besides lib.mjs's LLR_WORDS):
//   LLR_ANTHROPIC_URL    the SDK's baseURL (it appends /v1/messages)
//   LLR_ANTHROPIC_MODEL  the model to ask for
//   LLR_ANTHROPIC_EXACT  1: the usage is the mock's own (docs/mock.md),
//                        cache tokens included; else only its shape

import Anthropic from '@anthropic-ai/sdk';
import { WORDS, check, is, section, setLabel, throws } from './lib.mjs';

const label = process.argv[2] || 'anthropic';
const BASE = process.env.LLR_ANTHROPIC_URL;
const MODEL = process.env.LLR_ANTHROPIC_MODEL || 'claude-mock';
const EXACT = process.env.LLR_ANTHROPIC_EXACT === '1';

setLabel(label);

const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: BASE,
                               maxRetries: 0 });

const SYSTEM = 'You are terse.';
const MESSAGES = [{ role: 'user', content: 'Hello there' }];

// 3 + 3 (system), 3 + 2 (the message)
const INPUT = 11;

const TOOLS = [{
    name: 'get_weather',
    description: 'The weather in a city',
    input_schema: {
        type: 'object',
        properties: { city: { type: 'string' },
                      unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city'],
    },
}];

function usageShape(u) {
    return u && Number.isInteger(u.input_tokens)
        && Number.isInteger(u.output_tokens);
}

await section('messages.create', async () => {
    const m = await client.messages.create({
        model: MODEL, max_tokens: 100, system: SYSTEM, messages: MESSAGES,
    });

    is('create: type', m.type, 'message');
    is('create: role', m.role, 'assistant');
    check('create: id', /^msg_/.test(m.id), m.id);
    is('create: one text block', m.content.map((b) => b.type), ['text']);
    is('create: the text', m.content[0].text, WORDS);
    is('create: stop_reason', m.stop_reason, 'end_turn');
    check('create: usage', usageShape(m.usage), m.usage);

    if (EXACT) {
        is('create: exact usage', [m.usage.input_tokens,
                                   m.usage.output_tokens,
                                   m.usage.cache_creation_input_tokens,
                                   m.usage.cache_read_input_tokens],
           [INPUT, 8, 0, 0]);
    }

    // the raw response: the SDK's request id and headers
    const { data, response } = await client.messages.create({
        model: MODEL, max_tokens: 3, messages: MESSAGES,
    }).withResponse();

    is('create max_tokens 3: stop_reason', data.stop_reason, 'max_tokens');
    is('create max_tokens 3: status', response.status, 200);
});

await section('messages.create stream', async () => {
    const stream = await client.messages.create({
        model: MODEL, max_tokens: 100, system: SYSTEM, messages: MESSAGES,
        stream: true,
    });

    const types = [];
    let text = '';
    let usage;
    let stop;

    for await (const ev of stream) {
        types.push(ev.type);

        if (ev.type === 'content_block_delta'
            && ev.delta.type === 'text_delta')
        {
            text += ev.delta.text;
        }

        if (ev.type === 'message_delta') {
            usage = ev.usage;
            stop = ev.delta.stop_reason;
        }
    }

    is('raw stream: first event', types[0], 'message_start');
    is('raw stream: last event', types[types.length - 1], 'message_stop');
    check('raw stream: content_block_start before the deltas',
          types.indexOf('content_block_start')
          < types.indexOf('content_block_delta'), types);
    is('raw stream: the text', text, WORDS);
    is('raw stream: stop_reason', stop, 'end_turn');
    check('raw stream: message_delta usage', usage
          && usage.output_tokens === 8, usage);
});

await section('messages.stream', async () => {
    let text = '';

    const stream = client.messages.stream({
        model: MODEL, max_tokens: 100, system: SYSTEM, messages: MESSAGES,
    }).on('text', (t) => { text += t; });

    const m = await stream.finalMessage();

    is('stream(): text events', text, WORDS);
    is('stream(): finalMessage text', m.content[0].text, WORDS);
    is('stream(): finalMessage stop_reason', m.stop_reason, 'end_turn');
    is('stream(): finalMessage output_tokens', m.usage.output_tokens, 8);

    if (EXACT) {
        is('stream(): exact input tokens', m.usage.input_tokens, INPUT);
    }
});

await section('tools', async () => {
    const m = await client.messages.create({
        model: MODEL, max_tokens: 100, messages: MESSAGES, tools: TOOLS,
        tool_choice: { type: 'tool', name: 'get_weather' },
    });

    const call = m.content.find((b) => b.type === 'tool_use');

    is('tools: stop_reason', m.stop_reason, 'tool_use');
    check('tools: a tool_use block', call, m.content);
    is('tools: its name', call && call.name, 'get_weather');
    is('tools: input fits the schema', call && call.input,
       { city: 'lorem', unit: 'c' });

    // the tool's result sent back: a text answer
    const m2 = await client.messages.create({
        model: MODEL, max_tokens: 100, tools: TOOLS,
        messages: [...MESSAGES,
                   { role: 'assistant', content: m.content },
                   { role: 'user', content: [{ type: 'tool_result',
                                                tool_use_id: call.id,
                                                content: 'sunny' }] }],
    });

    is('tools: after the result, text', m2.content[0].type, 'text');
    is('tools: after the result, end_turn', m2.stop_reason, 'end_turn');

    // streamed: input_json_delta pieces parsed by the SDK
    let json = '';
    const s = client.messages.stream({
        model: MODEL, max_tokens: 100, messages: MESSAGES, tools: TOOLS,
        tool_choice: { type: 'any' },
    }).on('inputJson', (partial) => { json += partial; });

    const f = await s.finalMessage();
    const sc = f.content.find((b) => b.type === 'tool_use');

    is('tools stream: finalMessage input', sc && sc.input,
       { city: 'lorem', unit: 'c' });
    is('tools stream: the inputJson pieces', JSON.parse(json),
       { city: 'lorem', unit: 'c' });
    is('tools stream: stop_reason', f.stop_reason, 'tool_use');
});

await section('countTokens', async () => {
    const c = await client.messages.countTokens({
        model: MODEL, system: SYSTEM, messages: MESSAGES,
    });

    check('countTokens: a number', Number.isInteger(c.input_tokens), c);

    if (EXACT) {
        is('countTokens: as create counts', c.input_tokens, INPUT);
    }
});

if (EXACT) {
    await section('cache tokens', async () => {
        const body = {
            model: MODEL, max_tokens: 100, messages: MESSAGES,
            system: [{ type: 'text', text: SYSTEM,
                       cache_control: { type: 'ephemeral' } }],
        };

        const w = await client.messages.create(body);
        is('cache: written', [w.usage.input_tokens,
                              w.usage.cache_creation_input_tokens,
                              w.usage.cache_read_input_tokens], [5, 6, 0]);

        const r = await client.messages.stream(body,
            { headers: { 'X-Mock-Cache': 'read' } }).finalMessage();
        is('cache: read, streamed', [r.usage.input_tokens,
                                     r.usage.cache_creation_input_tokens,
                                     r.usage.cache_read_input_tokens],
           [5, 0, 6]);
    });

    await section('errors', async () => {
        await throws('no max_tokens: BadRequestError',
            () => client.messages.create({ model: MODEL,
                                           messages: MESSAGES }),
            Anthropic.BadRequestError,
            (e) => {
                is('BadRequestError: type', e.error && e.error.error
                   && e.error.error.type, 'invalid_request_error');
                is('BadRequestError: message', e.error && e.error.error
                   && e.error.error.message, 'max_tokens: Field required');
            });

        await throws('429: RateLimitError',
            () => client.messages.create({ model: MODEL, max_tokens: 5,
                                           messages: MESSAGES },
                                         { headers: { 'X-Mock-Status':
                                                      '429' } }),
            Anthropic.RateLimitError);

        await throws('529: OverloadedError',
            () => client.messages.create({ model: MODEL, max_tokens: 5,
                                           messages: MESSAGES },
                                         { headers: { 'X-Mock-Status':
                                                      '529' } }),
            Anthropic.InternalServerError,
            (e) => is('529: status', e.status, 529));

        await throws('a stream cut short: the SDK throws',
            async () => {
                const s = client.messages.stream({
                    model: MODEL, max_tokens: 100, messages: MESSAGES,
                }, { headers: { 'X-Mock-Cut': '2' } });
                await s.finalMessage();
            });
    });
}
