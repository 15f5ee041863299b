// The helpers of the SDK conformance scripts (t/81-sdk.t runs them).
//
// Every check prints one JSON line on stdout, {"ok":..,"name":..,"diag":..},
// which the .t file turns into a TAP test.  A section that throws is one
// failed check with the error, and the script goes on with the next.
//
// Environment (set by t/81-sdk.t):
//   LLR_URL      the router's base URL, .../v1
//   LLR_ROOT     the router's origin, http://127.0.0.1:PORT
//   LLR_FAULT    the fault-injecting provider's origin
//   LLR_WORDS    the mock's answer (its tokens= words)

export const URL_V1 = process.env.LLR_URL;
export const ROOT = process.env.LLR_ROOT;
export const FAULT = process.env.LLR_FAULT;
export const WORDS = process.env.LLR_WORDS;

let label = '';

export function setLabel(l) {
    label = l;
}

function emit(ok, name, diag) {
    const line = { ok: !!ok, name: `${label}: ${name}` };

    if (!ok && diag !== undefined) {
        line.diag = typeof diag === 'string' ? diag : JSON.stringify(diag);
    }

    process.stdout.write(JSON.stringify(line) + '\n');
}

export function check(name, cond, diag) {
    emit(cond, name, diag);
    return !!cond;
}

export function is(name, got, want) {
    const ok = JSON.stringify(got) === JSON.stringify(want);
    emit(ok, name, { got, want });
    return ok;
}

// a section: its checks, or one failed check if it throws
export async function section(name, fn) {
    try {
        await fn();
    } catch (e) {
        emit(false, `${name} (threw)`, `${e && e.constructor && e.constructor.name}: ${e && e.stack || e}`);
    }
}

// fn must throw an instance of cls; returns the error
export async function throws(name, fn, cls, more) {
    let err;

    try {
        await fn();
    } catch (e) {
        err = e;
    }

    const ok = err !== undefined && (!cls || err instanceof cls);
    emit(ok, name, err ? `${err.constructor.name}: ${err.message}`
                       : 'did not throw');

    if (ok && more) {
        more(err);
    }

    return err;
}

export async function status() {
    const r = await fetch(`${ROOT}/llm/status`);
    return r.json();
}

// the model's counters in the status JSON (zeros if not there yet)
export async function modelStats(model) {
    const s = await status();
    return Object.assign({ requests: 0, errors: 0, prompt_tokens: 0,
                           completion_tokens: 0, cost_usd: 0 },
                         (s.models || {})[model] || {});
}

// poll until pred(stats) or timeout; returns the last stats
export async function waitStats(model, pred, ms = 5000) {
    const end = Date.now() + ms;
    let s;

    do {
        s = await modelStats(model);

        if (pred(s)) {
            return s;
        }

        await sleep(50);
    } while (Date.now() < end);

    return s;
}

export async function faultAttempts(key) {
    const r = await fetch(`${FAULT}/attempts?key=${encodeURIComponent(key)}`);
    return Number(await r.text());
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// a key unique to this run, for the rate limits and the fault provider
export function uniq(what) {
    return `${label}-${what}-${process.pid}-${Date.now()}`;
}

export const MESSAGES = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the weather in Paris?' },
];
