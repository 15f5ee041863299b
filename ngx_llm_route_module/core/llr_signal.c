/*
 * ngx_llm_route_module: quality signals of an answer (see llr_signal.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llr_signal.h"


static const char  *llr_sig_names[LLR_SIG_N] = {
    "truncated",
    "content_filter",
    "empty",
    "bad_tool_json",
    "bad_json",
    "refusal"
};


/*
 * The default refusal patterns (docs/quality.md lists them): the
 * openings with which assistants decline, in English, at the start of
 * the answer.  Caseless; [’'] takes both apostrophes.
 */

#define LLR_NOT   "(?: can[’']?t| cannot| can not| won[’']?t| will not"        \
                  "| am unable to|[’']?m unable to| am not able to"            \
                  "|[’']?m not able to)"
#define LLR_DO    "(?:help|assist|comply|provide|fulfil|do that|do this"       \
                  "|create|generate|write|produce|share|support|engage"        \
                  "|answer|give|continue|participate)"

const char *const  llr_sig_refusals[] = {
    /* "I'm sorry, but I can't help with that." */
    "^\\s*(?:i[’']?m sorry|i am sorry|sorry|i apologi[sz]e|my apologies)"
        "\\b.{0,60}?\\bi" LLR_NOT,
    /* "I can't help with that.", "I cannot provide ..." */
    "^\\s*i" LLR_NOT " " LLR_DO,
    /* "I'm unable to assist with ...", "I am not able to ..." */
    "^\\s*i(?:[’']?m| am) (?:unable|not able) to " LLR_DO,
    /* "As an AI language model, I cannot ..." */
    "^\\s*as an ai(?: language model| assistant| model)?,? i(?: can[’']?t"
        "| cannot| am unable|[’']?m unable| am not able|[’']?m not able"
        "| don[’']?t| do not)",
    /* "I must decline ...", "I'm going to have to decline ..." */
    "^\\s*i(?: must| have to| need to| will have to"
        "|(?:[’']?m| am) going to(?: have to)?) (?:respectfully |politely )?"
        "decline",
    /* "I don't feel comfortable ..." */
    "^\\s*i (?:don[’']?t|do not) feel comfortable",
    NULL
};


static void llr_sig_choice_text(llr_sig_t *s, llr_sig_choice_t *c,
    const unsigned char *data, size_t len);
static void llr_sig_tool_text(llr_sig_t *s, uint32_t choice, uint32_t index,
    const unsigned char *data, size_t len);
static void llr_sig_tool_done(llr_sig_t *s, llr_sig_tool_t *t);
static void llr_sig_check(llr_sig_t *s, llr_sig_choice_t *c);
static int llr_sig_has_text(const unsigned char *p, size_t len);


const char *
llr_sig_name(unsigned sig)
{
    return (sig < LLR_SIG_N) ? llr_sig_names[sig] : NULL;
}


int
llr_sig_by_name(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < LLR_SIG_N; i++) {
        if (strlen(llr_sig_names[i]) == len
            && memcmp(llr_sig_names[i], name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


int
llr_sig_refusal_default(llr_pattern_t *p, char *err, size_t errlen)
{
    int     rc;
    char   *re, *d;
    size_t  i, len;

    len = 0;

    for (i = 0; llr_sig_refusals[i]; i++) {
        len += strlen(llr_sig_refusals[i]) + sizeof("|(?:)") - 1;
    }

    re = malloc(len + 1);

    if (re == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    d = re;

    for (i = 0; llr_sig_refusals[i]; i++) {
        d += sprintf(d, "%s(?:%s)", i ? "|" : "", llr_sig_refusals[i]);
    }

    rc = llr_pattern_compile(p, re, (size_t) (d - re), 1, err, errlen);

    free(re);

    return rc;
}


void
llr_sig_init(llr_sig_t *s, const llr_sig_conf_t *conf, int json_mode)
{
    unsigned  i;

    memset(s, 0, offsetof(llr_sig_t, choice));

    s->conf = conf;
    s->json_mode = json_mode ? 1 : 0;

    for (i = 0; i < LLR_SIG_CHOICES; i++) {
        memset(&s->choice[i], 0, offsetof(llr_sig_choice_t, json));
        llr_jsonv_init(&s->choice[i].json);
    }

    for (i = 0; i < LLR_SIG_TOOLS; i++) {
        s->tool[i].used = 0;
    }
}


void
llr_sig_text(llr_sig_t *s, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *data, size_t len)
{
    llr_sig_choice_t  *c;

    c = (choice < LLR_SIG_CHOICES) ? &s->choice[choice] : NULL;

    switch (kind) {

    case LLR_TEXT_CONTENT:
        if (c) {
            llr_sig_choice_text(s, c, data, len);

        } else if (!s->other_text && llr_sig_has_text(data, len)) {
            s->other_text = 1;
        }

        break;

    case LLR_TEXT_REFUSAL:
        if (!llr_sig_has_text(data, len)) {
            break;
        }

        if (c) {
            c->refusal = 1;

        } else {
            s->other_text = 1;
        }

        break;

    case LLR_TEXT_TOOL_ARGS:
        if (c) {
            c->tool = 1;

        } else {
            s->other_text = 1;
        }

        llr_sig_tool_text(s, choice, index, data, len);
        break;

    default:
        /* reasoning is not the answer */
        break;
    }
}


static void
llr_sig_choice_text(llr_sig_t *s, llr_sig_choice_t *c,
    const unsigned char *data, size_t len)
{
    size_t  n;

    if (len == 0 || (!s->json_mode && c->checked && c->text)) {
        /* nothing more to learn from this choice's text */
        return;
    }

    if (!c->text && llr_sig_has_text(data, len)) {
        c->text = 1;
    }

    if (s->json_mode) {
        c->bytes += len;
        (void) llr_jsonv_feed(&c->json, data, len);
    }

    if (c->checked) {
        return;
    }

    n = LLR_SIG_PREFIX - c->plen;

    if (n > len) {
        n = len;
    }

    memcpy(c->prefix + c->plen, data, n);
    c->plen = (uint16_t) (c->plen + n);

    if (c->plen == LLR_SIG_PREFIX) {
        /* all the patterns see is here */
        llr_sig_check(s, c);
    }
}


static void
llr_sig_tool_text(llr_sig_t *s, uint32_t choice, uint32_t index,
    const unsigned char *data, size_t len)
{
    unsigned         i;
    llr_sig_tool_t  *t, *lru;

    t = NULL;
    lru = &s->tool[0];

    for (i = 0; i < LLR_SIG_TOOLS; i++) {

        if (s->tool[i].used == 0) {
            if (t == NULL) {
                t = &s->tool[i];
            }

            continue;
        }

        if (s->tool[i].choice == choice && s->tool[i].index == index) {
            t = &s->tool[i];
            goto feed;
        }

        if (lru->used == 0 || s->tool[i].used < lru->used) {
            lru = &s->tool[i];
        }
    }

    if (t == NULL) {
        /* a call beyond LLR_SIG_TOOLS: the oldest one is complete */
        llr_sig_tool_done(s, lru);
        s->tools_early++;
        t = lru;
    }

    t->choice = choice;
    t->index = index;
    llr_jsonv_init(&t->json);
    s->tools++;

feed:

    t->used = ++s->clock;

    if (llr_jsonv_feed(&t->json, data, len) == LLR_JSONV_INVALID) {
        s->signals |= LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON);
    }
}


static void
llr_sig_tool_done(llr_sig_t *s, llr_sig_tool_t *t)
{
    if (llr_jsonv_finish(&t->json) == LLR_JSONV_INVALID) {
        s->signals |= LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON);
    }

    t->used = 0;
}


static void
llr_sig_check(llr_sig_t *s, llr_sig_choice_t *c)
{
    size_t  i;

    c->checked = 1;

    if (s->conf == NULL || c->plen == 0) {
        return;
    }

    for (i = 0; i < s->conf->npatterns; i++) {
        if (llr_pattern_match(&s->conf->patterns[i], c->prefix, c->plen)
            == 1)
        {
            c->refusal = 1;
            return;
        }
    }
}


static int
llr_sig_has_text(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            return 1;
        }
    }

    return 0;
}


uint32_t
llr_sig_end(llr_sig_t *s, const uint32_t finish[LLR_FINISH_N])
{
    int                i, seen;
    uint32_t           sig;
    llr_sig_choice_t  *c;

    sig = s->signals;

    if (finish[LLR_FINISH_LENGTH]) {
        sig |= LLR_SIG_BIT(LLR_SIG_TRUNCATED);
    }

    if (finish[LLR_FINISH_CONTENT_FILTER]) {
        sig |= LLR_SIG_BIT(LLR_SIG_CONTENT_FILTER);
    }

    for (i = 0; i < LLR_SIG_TOOLS; i++) {
        if (s->tool[i].used) {
            llr_sig_tool_done(s, &s->tool[i]);
        }
    }

    sig |= s->signals;
    seen = s->other_text;

    for (i = 0; i < LLR_SIG_CHOICES; i++) {
        c = &s->choice[i];

        if (s->json_mode && c->bytes
            && llr_jsonv_finish(&c->json) == LLR_JSONV_INVALID)
        {
            sig |= LLR_SIG_BIT(LLR_SIG_BAD_JSON);
        }

        if (!c->checked) {
            llr_sig_check(s, c);
        }

        if (c->refusal) {
            sig |= LLR_SIG_BIT(LLR_SIG_REFUSAL);
        }

        if (c->text || c->tool || c->refusal) {
            seen = 1;
        }
    }

    if (!seen) {
        sig |= LLR_SIG_BIT(LLR_SIG_EMPTY);
    }

    s->signals = sig;

    return sig;
}


/* ---- the scanners' hook: raw JSON string bodies ------------------------ */


#define LLR_SIG_BUF  256


static size_t
llr_sig_utf8(unsigned char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (unsigned char) cp;
        return 1;
    }

    if (cp < 0x800) {
        d[0] = (unsigned char) (0xc0 | (cp >> 6));
        d[1] = (unsigned char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        d[0] = (unsigned char) (0xe0 | (cp >> 12));
        d[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char) (0x80 | (cp & 0x3f));
        return 3;
    }

    d[0] = (unsigned char) (0xf0 | (cp >> 18));
    d[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char) (0x80 | (cp & 0x3f));
    return 4;
}


/* whether text of a kind and choice can still change the signals */
static int
llr_sig_wants(const llr_sig_t *s, unsigned kind, uint32_t choice)
{
    const llr_sig_choice_t  *c;

    if (kind == LLR_TEXT_TOOL_ARGS) {
        return 1;
    }

    if (choice >= LLR_SIG_CHOICES) {
        return (kind == LLR_TEXT_CONTENT || kind == LLR_TEXT_REFUSAL)
               && !s->other_text;
    }

    c = &s->choice[choice];

    switch (kind) {
    case LLR_TEXT_CONTENT:
        return s->json_mode || !c->checked || !c->text;
    case LLR_TEXT_REFUSAL:
        return !c->refusal;
    default:
        return 0;
    }
}


void
llr_sig_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    llr_sig_t            *s = ctx;
    unsigned              c, v;
    size_t                n, run;
    const unsigned char  *p, *end, *q;
    unsigned char         buf[LLR_SIG_BUF + 8];

    if (flags & LLR_TEXT_BEGIN) {
        s->esc = 0;
        s->uhi = 0;

        if (len == 0 && kind == LLR_TEXT_TOOL_ARGS) {
            /* the call is there, with no arguments yet */
            llr_sig_text(s, kind, choice, index, raw, 0);
        }
    }

    if (!llr_sig_wants(s, kind, choice)) {
        /*
         * the rest of this string cannot change anything (the text
         * after the refusal patterns' bytes, reasoning): not decoded
         */
        return;
    }

    /* decoded into buf, handed on a buffer at a time */

    p = raw;
    end = raw + len;
    n = 0;

    while (p < end) {

        if (n >= LLR_SIG_BUF) {
            llr_sig_text(s, kind, choice, index, buf, n);
            n = 0;

            if (!llr_sig_wants(s, kind, choice)) {
                return;
            }
        }

        if (s->esc == 0) {
            q = memchr(p, '\\', (size_t) (end - p));
            q = q ? q : end;
            run = (size_t) (q - p);

            if (run == 0) {
                s->esc = 1;
                p++;
                continue;
            }

            if (s->uhi) {
                n += llr_sig_utf8(buf + n, 0xfffd);
                s->uhi = 0;
            }

            if (n + run <= LLR_SIG_BUF) {
                memcpy(buf + n, p, run);
                n += run;

            } else {
                /* a long run: by reference */
                if (n) {
                    llr_sig_text(s, kind, choice, index, buf, n);
                    n = 0;
                }

                llr_sig_text(s, kind, choice, index, p, run);

                if (!llr_sig_wants(s, kind, choice)) {
                    return;
                }
            }

            p = q;
            continue;
        }

        c = *p++;

        if (s->esc == 1) {
            s->esc = 0;

            switch (c) {
            case 'u':
                s->esc = 2;
                s->ucp = 0;
                continue;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '"': case '\\': case '/': break;
            default:
                /* not JSON: the scanner says so; nothing to decode */
                continue;
            }

            if (s->uhi) {
                n += llr_sig_utf8(buf + n, 0xfffd);
                s->uhi = 0;
            }

            buf[n++] = (unsigned char) c;
            continue;
        }

        /* \uXXXX: s->esc - 2 hex digits read */

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v = (c | 0x20) - 'a' + 10;

        } else {
            s->esc = 0;
            continue;
        }

        s->ucp = (s->ucp << 4) | v;

        if (++s->esc < 6) {
            continue;
        }

        s->esc = 0;

        if (s->ucp >= 0xdc00 && s->ucp <= 0xdfff && s->uhi) {
            n += llr_sig_utf8(buf + n, 0x10000 + ((s->uhi - 0xd800) << 10)
                                       + (s->ucp - 0xdc00));
            s->uhi = 0;
            continue;
        }

        if (s->uhi) {
            n += llr_sig_utf8(buf + n, 0xfffd);
            s->uhi = 0;
        }

        if (s->ucp >= 0xd800 && s->ucp <= 0xdbff) {
            s->uhi = s->ucp;
            continue;
        }

        n += llr_sig_utf8(buf + n, (s->ucp >= 0xdc00 && s->ucp <= 0xdfff)
                                   ? 0xfffd : s->ucp);
    }

    if ((flags & LLR_TEXT_END) && s->uhi) {
        n += llr_sig_utf8(buf + n, 0xfffd);
        s->uhi = 0;
    }

    if (n) {
        llr_sig_text(s, kind, choice, index, buf, n);
    }
}
