// LangChain JS (@langchain/openai) against the router (t/81-sdk.t): Chat
// Completions and the Responses API (useResponsesApi), streaming,
// tools, structured output, embeddings.

import { z } from 'zod';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { tool } from '@langchain/core/tools';
import { URL_V1, ROOT, WORDS, setLabel, check, is, section, throws, sleep }
    from './lib.mjs';

setLabel('langchain');

const Weather = z.object({
    city: z.string(),
    unit: z.enum(['celsius', 'fahrenheit']),
    days: z.number().int().min(1).max(7),
});

const nwords = WORDS.split(' ').length;
const prompt = 'What is the weather in Paris?';

const chat = (opts) => new ChatOpenAI({ model: 'gpt-4o-mini',
    apiKey: 'sk-client', maxRetries: 0,
    configuration: { baseURL: URL_V1 }, ...opts });

for (const [api, opts] of [['chat', {}],
                           ['responses', { useResponsesApi: true }]]) {
    const llm = chat(opts);

    await section(`${api} invoke`, async () => {
        const m = await llm.invoke(prompt);
        is(`${api} invoke: the text`, m.text, WORDS);
        is(`${api} invoke: output tokens`, m.usage_metadata?.output_tokens,
           nwords);
    });

    await section(`${api} stream`, async () => {
        let text = '', usage;

        for await (const c of await llm.stream(prompt)) {
            text += c.text;
            usage = c.usage_metadata ?? usage;
        }

        is(`${api} stream: the text`, text, WORDS);
        is(`${api} stream: output tokens`, usage?.output_tokens, nwords);
    });

    await section(`${api} tools`, async () => {
        const weather = tool(async () => 'sunny',
            { name: 'get_weather', description: 'the weather',
              schema: Weather });
        // @langchain/openai 1.6 drops tool_choice "required" (and "any")
        // from a Responses request; a function's name is sent
        const m = await llm.bindTools([weather], {
            tool_choice: api === 'chat' ? 'required' : 'get_weather' })
            .invoke(prompt);
        const call = m.tool_calls?.[0];
        is(`${api} bindTools: the call`, call?.name, 'get_weather');
        check(`${api} bindTools: args the schema accepts`,
              Weather.safeParse(call?.args).success, call);
    });

    await section(`${api} structured output`, async () => {
        const r = await llm.withStructuredOutput(Weather, { name: 'weather' })
            .invoke(prompt);
        check(`${api} withStructuredOutput: the schema accepts it`,
              Weather.safeParse(r).success, r);
    });
}

await section('chat stream without usage', async () => {
    let text = '', usage;

    for await (const c of await chat({ streamUsage: false }).stream(prompt)) {
        text += c.text;
        usage = c.usage_metadata ?? usage;
    }

    is('chat stream, streamUsage false: the text', text, WORDS);
    is('chat stream, streamUsage false: no usage', usage, undefined);
});

await section('embeddings', async () => {
    const emb = new OpenAIEmbeddings({ model: 'text-embedding-3-small',
        apiKey: 'sk-client', maxRetries: 0,
        configuration: { baseURL: URL_V1 } });
    const one = await emb.embedQuery('alpha');
    const many = await emb.embedDocuments(['alpha', 'beta']);

    is('embedQuery: 8 numbers', one.length, 8);
    is('embedDocuments: the same as embedQuery', many[0], one);
});

await section('errors', async () => {
    await throws('unknown model: an error with status 404', () =>
        chat({ model: 'no-such-model' }).invoke(prompt), null,
        (e) => is('unknown model: status', e.status, 404));

    // a spent budget: LangChain's own retries skip insufficient_quota,
    // the type of a budget refusal
    const budget = chat({ maxRetries: 2, configuration: {
        baseURL: `${ROOT}/budget/v1`,
        defaultHeaders: { 'X-Team': `lc-${process.pid}` } } });

    await budget.invoke(prompt);
    const e = await Promise.race([
        budget.invoke(prompt).then(() => 'answered', (err) => err),
        sleep(1000).then(() => 'waiting')]);
    check('budget refusal: a 429 within 1 s (not retried)',
          e?.status === 429, String(e));
});

process.exit(0);
