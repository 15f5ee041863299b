// The Vercel AI SDK against the router (t/81-sdk.t): @ai-sdk/openai, whose
// default model speaks the Responses API and whose .chat() speaks Chat
// Completions, and @ai-sdk/openai-compatible (Chat Completions, with and
// without stream_options.include_usage).

import { z } from 'zod';
import { generateText, streamText, embed, embedMany, tool, Output,
         APICallError } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { URL_V1, ROOT, WORDS, setLabel, check, is, section, throws,
         modelStats, waitStats } from './lib.mjs';

setLabel('ai');

const openai = createOpenAI({ baseURL: URL_V1, apiKey: 'sk-client' });
const compat = (includeUsage) => createOpenAICompatible({
    name: 'llr', baseURL: URL_V1, apiKey: 'sk-client', includeUsage,
    supportsStructuredOutputs: true });

const Weather = z.object({
    city: z.string(),
    unit: z.enum(['celsius', 'fahrenheit']),
    days: z.number().int().min(1).max(7),
    spots: z.array(z.object({ lat: z.number() })),
});

const prompt = 'What is the weather in Paris?';
const nwords = WORDS.split(' ').length;

const models = {
    'responses': openai('gpt-4o-mini'),
    'chat': openai.chat('gpt-4o-mini'),
    'compatible': compat(true)('gpt-4o-mini'),
};

for (const [api, model] of Object.entries(models)) {
    await section(`${api} generateText`, async () => {
        const r = await generateText({ model, prompt, maxRetries: 0 });
        is(`${api} generateText: the text`, r.text, WORDS);
        is(`${api} generateText: finishReason`, r.finishReason, 'stop');
        is(`${api} generateText: output tokens`, r.usage.outputTokens,
           nwords);
        check(`${api} generateText: input tokens`, r.usage.inputTokens > 0,
              r.usage);
    });

    await section(`${api} streamText`, async () => {
        const errors = [];
        const r = streamText({ model, prompt, maxRetries: 0,
                               onError: ({ error }) => errors.push(error) });
        let text = '';

        for await (const piece of r.textStream) {
            text += piece;
        }

        is(`${api} streamText: the text`, text, WORDS);
        is(`${api} streamText: finishReason`, await r.finishReason, 'stop');
        is(`${api} streamText: output tokens`, (await r.usage).outputTokens,
           nwords);
        check(`${api} streamText: no error`, errors.length === 0,
              errors.map(String));
    });

    await section(`${api} tools`, async () => {
        const r = await generateText({ model, prompt, maxRetries: 0,
            toolChoice: 'required',
            tools: { get_weather: tool({ description: 'the weather',
                                         inputSchema: Weather }) } });
        const call = r.toolCalls[0];
        is(`${api} tools: the call`, call?.toolName, 'get_weather');
        check(`${api} tools: input the schema accepts`,
              Weather.safeParse(call?.input).success, call);
    });

    await section(`${api} structured output`, async () => {
        const r = await generateText({ model, prompt, maxRetries: 0,
            output: Output.object({ schema: Weather }) });
        check(`${api} Output.object: the schema accepts it`,
              Weather.safeParse(r.output).success, r.text);
    });
}

await section('compatible streamText without usage', async () => {
    const r = streamText({ model: compat(false)('gpt-4o-mini'), prompt,
                           maxRetries: 0 });
    let text = '';

    for await (const piece of r.textStream) {
        text += piece;
    }

    is('compatible, includeUsage false: the text', text, WORDS);
    is('compatible, includeUsage false: no usage (the router removed '
       + 'the chunk it asked for)', (await r.usage).outputTokens, undefined);
});

await section('responses stream cut', async () => {
    // the fault provider ends its stream cleanly after two deltas: only
    // the router's error event tells the client
    const errors = [];
    const r = streamText({ model: openai('flaky'), prompt, maxRetries: 0,
                           onError: ({ error }) => errors.push(error) });
    let text = '';

    try {
        for await (const piece of r.textStream) {
            text += piece;
        }
    } catch (e) {
        errors.push(e);
    }

    is('a cut Responses stream: the text so far', text, 'half an answer');
    check('a cut Responses stream: streamText reports stream_interrupted',
          errors.some((e) => /stream_interrupted|interrupted/.test(
              JSON.stringify(e) + String(e))), errors.map(String));
});

await section('embeddings', async () => {
    const model = openai.embedding('text-embedding-3-small');
    const one = await embed({ model, value: 'alpha', maxRetries: 0 });
    const many = await embedMany({ model, values: ['alpha', 'beta'],
                                   maxRetries: 0 });

    is('embed: 8 numbers', one.embedding.length, 8);
    is('embedMany: two', many.embeddings.length, 2);
    is('embedMany: the same as embed', many.embeddings[0], one.embedding);
});

await section('auto', async () => {
    const r = await generateText({ model: openai.chat('auto'), prompt,
                                   maxRetries: 0 });
    const h = r.response.headers;
    check('auto: X-LLM-Route-Model is a candidate',
          ['gpt-4o-mini', 'gpt-4o'].includes(h['x-llm-route-model']), h);
    check('auto: X-LLM-Route-Task and -Reason',
          h['x-llm-route-task'] && h['x-llm-route-reason'], h);
    is('auto: response.modelId', r.response.modelId, h['x-llm-route-model']);
});

await section('errors', async () => {
    await throws('unknown model: APICallError 404', () =>
        generateText({ model: openai.chat('no-such-model'), prompt,
                       maxRetries: 0 }), APICallError,
        (e) => is('unknown model: statusCode', e.statusCode, 404));

    const limited = createOpenAI({ baseURL: `${ROOT}/limited/v1`,
        apiKey: 'sk-client', headers: { 'X-Team': `ai-${process.pid}` } });

    await generateText({ model: limited.chat('gpt-4o-mini'), prompt,
                         maxRetries: 0 });
    // a spent budget: the AI SDK decides on the status alone (it does
    // not read x-should-retry), so it would retry with maxRetries > 0
    const budget = createOpenAI({ baseURL: `${ROOT}/budget/v1`,
        apiKey: 'sk-client', headers: { 'X-Team': `ai-b-${process.pid}` } });

    await generateText({ model: budget.chat('gpt-4o-mini'), prompt,
                         maxRetries: 0 });
    await throws('budget refusal: APICallError 429', () =>
        generateText({ model: budget.chat('gpt-4o-mini'), prompt,
                       maxRetries: 0 }), APICallError,
        (e) => check('budget refusal: isRetryable (x-should-retry is not '
                     + 'read)', e.statusCode === 429 && e.isRetryable,
                     e.statusCode));

    await throws('rate limit: APICallError 429, retryable', () =>
        generateText({ model: limited.chat('gpt-4o-mini'), prompt,
                       maxRetries: 0 }), APICallError,
        (e) => check('rate limit: statusCode 429, isRetryable',
                     e.statusCode === 429 && e.isRetryable, e.statusCode));
});

await section('abort mid-stream', async () => {
    const model = 'slow-model';
    const before = await modelStats(model);
    const ac = new AbortController();
    const r = streamText({ model: openai.chat(model), prompt,
                           maxOutputTokens: 100, maxRetries: 0,
                           abortSignal: ac.signal });
    let text = '';

    try {
        for await (const piece of r.textStream) {
            text += piece;

            if (text.split(' ').length >= 3) {
                ac.abort();
            }
        }
    } catch {
        // the abort
    }

    check('abort mid-stream: the stream ended early',
          text.split(' ').length < 100, text);

    const after = await waitStats(model,
                                  (s) => s.requests > before.requests);
    is('abort mid-stream: counted once', after.requests - before.requests, 1);
    check('abort mid-stream: the streamed text is charged',
          after.completion_tokens > before.completion_tokens
          && after.cost_usd > before.cost_usd, { before, after });
});

process.exit(0);
