/*
 * ngx_llm_route_module: the compact prompt classifier (see
 * llr_classify.h and docs/classifier.md).
 */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "llr.h"
#include "llr_classify.h"
#include "llr_classify_train.h"


/* the models are trained with these: changing them needs a new model */
#define LLR_CLS_HEAD       128     /* first bytes of a message tokenized */
#define LLR_CLS_TAIL       32      /* and its last bytes */
#define LLR_CLS_TCOLS      8       /* task columns per row, a vector */

/*
 * Context (system and assistant messages, earlier user turns) is
 * tokenized newest first, at finish, until this many bytes of it have
 * been; older context messages only count towards its length.  The head
 * of the latest LLR_CLS_CTX_SLOTS context messages is kept for that, in
 * a ring (context is tokenized by its head only).  The last user turn is
 * always tokenized (its head and tail).  So at most LLR_CLS_CTX_BUDGET +
 * 2 * (LLR_CLS_HEAD + LLR_CLS_TAIL) bytes are tokenized per request.
 */
#define LLR_CLS_CTX_BUDGET 128
#define LLR_CLS_CTX_SLOTS  8       /* context messages kept */
#define LLR_CLS_CTX_RING   (LLR_CLS_CTX_SLOTS + 1)   /* and the one received */
#define LLR_CLS_HDR        64

const size_t  llr_cls_ctx_budget = LLR_CLS_CTX_BUDGET;

#define LLR_CLS_NOMARK     ((size_t) -2)

/* the punctuation counters of a part: a byte each (a part < 256 bytes) */
#define LLR_CLS_P_MATH     0
#define LLR_CLS_P_QMARK    8
#define LLR_CLS_P_LATEX    16
#define LLR_CLS_P_MONEY    24
#define LLR_CLS_P_PCT      32
#define LLR_CLS_P_SENT     40

#if (LLR_CLS_HEAD > 255 || LLR_CLS_TAIL > LLR_CLS_HEAD)
#error "a part must fit the byte-wide punctuation counters"
#endif

#define LLR_CLS_SEP        0
#define LLR_CLS_LETTER     1
#define LLR_CLS_DIGIT      2

/* seeds of the feature kinds */
#define LLR_CLS_S_WORD     0x2545f491u
#define LLR_CLS_S_BIGRAM   0x9e3779b9u
#define LLR_CLS_S_CHAR3    0x632be5abu
#define LLR_CLS_S_FIRST    0x7f4a7c15u     /* the first word, bigram */



/*
 * Hashed weights are int16 in [-LLR_CLS_QMAX, LLR_CLS_QMAX]: sixty-four
 * of them sum without overflow in 16-bit lanes (wrapping unsigned
 * arithmetic, reinterpreted as signed when flushed).
 */
#define LLR_CLS_QMAX       511
#define LLR_CLS_QRUN       64

typedef uint16_t  llr_v8hu_t __attribute__((vector_size(16)));
typedef float     llr_v4sf_t __attribute__((vector_size(16)));


struct llr_cls_model_s {
    uint32_t             hash_bits;
    uint32_t             ntasks;
    uint32_t             trows;         /* task columns per row: 8 or 16 */
    float                ctx_weight;
    float                task_scale;
    float                diff_scale;
    float                diff_bias;
    const int16_t       *tw;            /* [1 << hash_bits][trows] */
    const int16_t       *dw;            /* [1 << hash_bits] */
    float                task_bias[LLR_CLS_MAX_TASKS];
    float                task_dense[LLR_CLS_NSTRUCT][LLR_CLS_MAX_TASKS];
    float                diff_dense[LLR_CLS_NSTRUCT];
    /* dense difficulty weights of the predicted task, added to those */
    float                diff_tdense[LLR_CLS_MAX_TASKS][LLR_CLS_NSTRUCT];
    /* the calibration of the predicted task: a, b */
    float                calib[LLR_CLS_MAX_TASKS][LLR_CLS_NCALIB];
    char                 names[LLR_CLS_MAX_TASKS][LLR_CLS_TASK_NAME_LEN];
};


/* structural counters of one group */
typedef struct {
    uint32_t             bytes;
    uint32_t             tokenized;
    uint32_t             digits;
    uint32_t             numbers;
    uint32_t             words;
    uint32_t             lines;
    uint32_t             code_lines;
    uint32_t             indented;
    uint32_t             fences;
    uint32_t             math;
    uint32_t             qmarks;
    uint32_t             latex;
    uint32_t             ends_q;
    uint32_t             sentences;     /* . ! ? */
    uint32_t             big;           /* numbers of 4+ digits, 1,000 */
    uint32_t             fracs;         /* 1/2, 2.5, 10:30 */
    uint32_t             pct;
    uint32_t             money;
    uint32_t             letters;       /* bytes of words */
    uint32_t             cjk;           /* words of one character */
} llr_cls_cnt_t;


/*
 * The option lines of the latest user message ("A. ...", "B) ..."):
 * found by a newline scan over all of its text (memchr), the opening of
 * each line looked at, nothing copied.  Offsets are message bytes.
 */
typedef struct {
    uint32_t             bytes;         /* of the message so far */
    uint32_t             lines;         /* newlines */
    uint32_t             opts;          /* option lines */
    uint32_t             qlen;          /* offset of the first option */
    uint32_t             qlines;        /* newlines before it */
    uint32_t             optbytes;      /* bytes of ended option lines */
    uint32_t             optmax;
    uint32_t             num;           /* options opening 0-9 - $ . ( \ */
    uint32_t             roman;         /* options "I, II", "II and" ... */
    uint32_t             pairs;         /* "True, False", "Wrong, ..." */
    uint32_t             items;         /* list items: "- ", "* ", "1. " */
    uint32_t             lstart;        /* offset of the current line */
    uint32_t             lhave;         /* its opening bytes seen, <= 8 */
    uint32_t             is_opt;        /* it is an option line */
    uint64_t             lhead;         /* its opening bytes */
} llr_cls_opt_t;


/* the head and the tail of a message */
typedef struct {
    size_t                  msg_bytes;
    size_t                  head_len;
    unsigned char           head[LLR_CLS_HEAD];
    unsigned char           tail[LLR_CLS_TAIL];
} llr_cls_msg_t;


typedef struct {
    const llr_cls_model_t  *m;
    llr_cls_record_pt       rec;
    void                   *rec_ctx;

    int64_t                 facc[2][LLR_CLS_MAX_TASKS + 1];
    uint32_t                nfeat[2];

    llr_cls_cnt_t           cnt[2];
    llr_cls_opt_t           opt;

    int                     group;
    int                     is_user;
    uint32_t                shift;         /* 32 - hash bits */
    size_t                  user_msgs;

    /* the message being received */
    llr_cls_msg_t          *in;
    uint32_t                open;          /* begun, not ended */
    uint32_t                skip;          /* budget 0: not kept */
    uint32_t                pending;       /* a user message to tokenize */
    size_t                  budget;        /* context bytes left */

    uint32_t                nctx;          /* context messages kept */
    uint32_t                user_pos;      /* the latest user message's */
    uint32_t                ctx_k;         /* nctx % LLR_CLS_CTX_RING */
    uint32_t                user_k;        /* user_pos % LLR_CLS_CTX_RING */
    uint32_t                reserved;      /* user_pos is set */
    uint8_t                 ctx_user[LLR_CLS_CTX_RING];

    /*
     * msg holds the latest user message: tokenized at finish as the
     * last user turn, or copied into its slot of the ring when the next
     * user message begins; ctx, a ring of the latest context messages
     * in message order, tokenized newest first at finish, within the
     * budget; its extra slot receives a non-user message without
     * touching the ones kept
     */

    /* not zeroed by llr_cls_state_init(): from here on */
    float                   dense[LLR_CLS_NSTRUCT];
    llr_cls_msg_t           msg;
    llr_cls_msg_t           ctx[LLR_CLS_CTX_RING];
} llr_cls_state_t;


/*
 * Byte classes and normal forms.  ASCII letters are lowercased, digits
 * become '0'.  Bytes >= 0x80 of words (UTF-8) are letters, folded so
 * that the capital and small letters of the Latin-1, Greek and Cyrillic
 * alphabets hash alike: continuation bytes get bit 0x20 (C3 89 "É" is
 * C3 A9 "é"), and the two lead bytes of Greek (CE, CF) and of Cyrillic
 * (D0, D1) are one (D0 A0 "Р" and D1 80 "р" both hash as D0 A0); some
 * letters of other 2-byte scripts share a hash with another letter.
 *
 * The lead bytes C2, E2-E9, EF and F0-F4 are separators in
 * llr_cls_word: their characters are handled one at a time by
 * llr_cls_mb() (CJK ideographs, kana, emoji: a word each; CJK and
 * fullwidth punctuation, typographic quotes, dashes, spaces: the ASCII
 * byte they stand for).
 */
static unsigned char  llr_cls_class[256];
static unsigned char  llr_cls_norm[256];
/* a byte of each punctuation counter: LLR_CLS_P_* */
static uint64_t       llr_cls_punct[256];
static unsigned char  llr_cls_word[256];     /* norm, 0 for separators */
static unsigned char  llr_cls_mblen[256];    /* 2..4: see llr_cls_mb() */

/*
 * The tables above are constant after the first llr_cls_tables()
 * call; it runs from model load (configuration time).
 */
static int  llr_cls_tables_done;


static void
llr_cls_tables(void)
{
    int  c;

    if (llr_cls_tables_done) {
        return;
    }

    for (c = 0; c < 256; c++) {
        llr_cls_class[c] = LLR_CLS_SEP;
        llr_cls_norm[c] = (unsigned char) c;

        if ((c >= 'a' && c <= 'z') || c >= 0x80) {
            llr_cls_class[c] = LLR_CLS_LETTER;

        } else if (c >= 'A' && c <= 'Z') {
            llr_cls_class[c] = LLR_CLS_LETTER;
            llr_cls_norm[c] = (unsigned char) (c + 32);

        } else if (c >= '0' && c <= '9') {
            llr_cls_class[c] = LLR_CLS_DIGIT;
            llr_cls_norm[c] = '0';

        } else if (c == '\n' || c == '\r' || c == '\t') {
            llr_cls_norm[c] = ' ';
        }

        if (c >= 0x80 && c <= 0xbf) {
            llr_cls_norm[c] = (unsigned char) (c | 0x20);
        }

        if (c == 0xc2 || (c >= 0xe2 && c <= 0xe9) || c == 0xef
            || (c >= 0xf0 && c <= 0xf4))
        {
            llr_cls_class[c] = LLR_CLS_SEP;
            llr_cls_mblen[c] = (c == 0xc2) ? 2 : (c >= 0xf0 ? 4 : 3);
        }

        llr_cls_word[c] = llr_cls_class[c] == LLR_CLS_SEP ? 0
                                                          : llr_cls_norm[c];

        llr_cls_punct[c] =
            (uint64_t) (c == '+' || c == '-' || c == '*' || c == '/'
                        || c == '=' || c == '^' || c == '<' || c == '>'
                        || c == '%') << LLR_CLS_P_MATH
            | (uint64_t) (c == '?') << LLR_CLS_P_QMARK
            | (uint64_t) (c == '\\' || c == '$') << LLR_CLS_P_LATEX
            | (uint64_t) (c == '$') << LLR_CLS_P_MONEY
            | (uint64_t) (c == '%') << LLR_CLS_P_PCT
            | (uint64_t) (c == '.' || c == '?' || c == '!')
              << LLR_CLS_P_SENT;
    }

    llr_cls_norm[0xcf] = 0xce;
    llr_cls_word[0xcf] = 0xce;
    llr_cls_norm[0xd1] = 0xd0;
    llr_cls_word[0xd1] = 0xd0;

    llr_cls_tables_done = 1;
}


/* a katakana character, U+30A0-30FF: E3 82 A0 .. E3 83 BF */
#define llr_cls_kata(p)                                                       \
    ((p)[0] == 0xe3 && (((p)[1] == 0x82 && (p)[2] >= 0xa0) || (p)[1] == 0x83))


/*
 * A multi-byte character outside words, p[0] one of the lead bytes
 * llr_cls_mblen knows, all its bytes present.  Returns the ASCII byte
 * it counts as (punctuation or ' '), or 0: it is a word by itself.
 */

static unsigned
llr_cls_mb(const unsigned char *p)
{
    uint32_t  c;

    if (p[0] == 0xc2) {
        switch (p[1]) {
        case 0xa1: return '!';                          /* ¡ */
        case 0xbf: return '?';                          /* ¿ */
        case 0xab: case 0xbb: return '"';               /* « » */
        case 0xa3: case 0xa5: return '$';               /* £ ¥ */
        case 0xb1: return '+';                          /* ± */
        case 0xb2: case 0xb3: return '^';               /* ² ³ */
        case 0xbc: case 0xbd: case 0xbe: return '/';    /* ¼ ½ ¾ */
        case 0xb7: return '.';                          /* · */
        case 0xa7: return '#';                          /* § */
        case 0xa9: case 0xae: case 0xb0: case 0xb5:     /* © ® ° µ */
            return 0;
        }

        return ' ';              /* no-break space, C1 controls, ... */
    }

    if (p[0] >= 0xf0) {
        return 0;                /* emoji and the other planes */
    }

    c = (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];

    if (c >= 0xe38180) {
        if (c < 0xefbc80 || c > 0xefbd9f) {
            /* kana, CJK ideographs, ... (and the rest of U+F000-FFFF) */
            return (c == 0xefbbbf) ? ' ' : 0;
        }

        /* fullwidth ASCII: U+FF01-FF5E are 0x21-0x7E */
        c = ((c >> 8) & 0x3f) << 6 | (c & 0x3f);
        c = c - 0xf00 + 0x20;

        if (c < 0x21 || c > 0x7e) {
            return ' ';
        }

        return llr_cls_class[c] == LLR_CLS_SEP ? c : 0;
    }

    if (c >= 0xe38080) {
        /* CJK symbols and punctuation, U+3000-303F */
        switch (c & 0xff) {
        case 0x81: return ',';                          /* 、 */
        case 0x82: return '.';                          /* 。 */
        case 0x9c: return '~';                          /* 〜 */
        }

        return (c & 0xff) >= 0x88 && (c & 0xff) <= 0x91 ? '"' : ' ';
    }

    if (c >= 0xe28080 && c <= 0xe280bf) {
        /* general punctuation, U+2000-203F */
        c &= 0xff;

        if (c <= 0x8f || c == 0xa8 || c == 0xa9 || c == 0xaf) {
            return ' ';          /* spaces, zero-width, line separators */
        }

        if (c <= 0x95) {
            return '-';          /* dashes */
        }

        if (c >= 0x98 && c <= 0x9b) {
            return '\'';
        }

        if ((c >= 0x9c && c <= 0x9f) || c == 0xb9 || c == 0xba) {
            return '"';
        }

        return c == 0xa6 ? '.' : (c == 0xa2 ? '*' : 0);
    }

    if (c == 0xe282ac) {
        return '$';              /* € */
    }

    if (c >= 0xe28880 && c <= 0xe28bbf) {
        return '=';              /* mathematical operators */
    }

    if ((c >> 8) == 0xe286 || (c >> 8) == 0xe287) {
        return '>';              /* arrows */
    }

    return 0;                    /* other symbols, CJK radicals, ... */
}


/*
 * A part of a message (its head or its tail) is tokenized in two
 * passes.  The first walks the bytes: it hashes the words, counts, and
 * writes the key of each hashed feature, in order, into an array.  The
 * second adds up the weight rows of the keys.  Apart, each loop keeps
 * its state in registers.
 *
 * A part has at most LLR_CLS_HEAD bytes.  A word adds at most two keys
 * (the word and the bigram with the word before it) and takes a byte (a
 * word of one multi-byte character: two keys for 2 to 4 bytes); a
 * punctuation byte adds one (the character 3-gram ending at it): at most
 * 3 keys per 2 bytes, and the last word's 2.  Two more for the first
 * word and the first bigram of a message, one more for the bigram key
 * the first pass always writes.
 */

#define LLR_CLS_MAXKEYS    (3 * LLR_CLS_HEAD / 2 + 6)

/*
 * The keys of a word whose hash is hh: the word, the bigram with the
 * word before it (written always, counted if there was one), and while
 * fw is not 0 (the first two words of a message) the first word, then
 * the first bigram, once more with another seed.
 */

#define llr_cls_word_keys(hh)                                                 \
    key[0] = (hh) ^ LLR_CLS_S_WORD;                                           \
    key[1] = (prev * LLR_FNV1A32_PRIME) ^ (hh) ^ LLR_CLS_S_BIGRAM;            \
    key += 1 + pair;                                                          \
    if (fw) {                                                                 \
        key[0] = key[-1] ^ LLR_CLS_S_FIRST;                                   \
        key++;                                                                \
        fw--;                                                                 \
    }                                                                         \
    prev = (hh);                                                              \
    pair = 1;                                                                 \
    words++

/*
 * The word hash (FNV-1a of the normal forms) of the word bytes from b[i]
 * on, four bytes a round: fewer loop branches and index updates per byte
 * than a byte a round, the same hash.  Returns the index of the first
 * separator; the sentinel after the part stops it at the latest.
 */

static inline __attribute__((always_inline)) size_t
llr_cls_hash_word(const unsigned char *b, size_t i, uint32_t *hp)
{
    size_t    k;
    uint32_t  c, h;

    h = *hp;

    for ( ;; i += 4) {
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#pragma GCC unroll 4
#endif
        for (k = 0; k < 4; k++) {
            c = llr_cls_word[b[i + k]];

            if (c == 0) {
                *hp = h;
                return i + k;
            }

            h = (h ^ c) * LLR_FNV1A32_PRIME;
        }
    }
}


/*
 * The first pass over p[0, len).  The word state starts afresh; a line
 * starts at p if line_start; the part is the opening of a message if
 * first (its first word and bigram are keyed once more).  Returns the
 * number of keys written.
 */

static size_t
llr_cls_scan(llr_cls_state_t *st, const unsigned char *p, size_t len,
    uint32_t line_start, uint32_t first, uint32_t *keys)
{
    size_t          i, s, e, mark;
    uint32_t        h, prev, pair, c, n, indent, mark_c, wlen, fw;
    uint32_t        words, numbers, digits, big, fracs, lines, code;
    uint32_t        indented, fences, letters, cjk;
    uint64_t        punct;
    uint32_t       *key;
    llr_cls_cnt_t  *cnt;
    unsigned char   b[2 + LLR_CLS_HEAD + 1];

    /*
     * two bytes of lookback for the 3-grams at the start (0 is their
     * normal form there) and a separator after the end, a sentinel: the
     * letter loop needs no bound check
     */

    b[0] = '\0';
    b[1] = '\0';
    memcpy(b + 2, p, len);
    e = 2 + len;
    b[e] = '\0';

    key = keys;
    h = LLR_FNV1A32_INIT;
    prev = 0;
    pair = 0;
    fw = first ? 2 : 0;
    indent = 0;
    mark = LLR_CLS_NOMARK;
    mark_c = 0;
    punct = 0;
    words = 0;
    numbers = 0;
    digits = 0;
    big = 0;
    fracs = 0;
    lines = 0;
    code = 0;
    indented = 0;
    fences = 0;
    letters = 0;
    cjk = 0;

    for (i = 2; /* void */; i++) {

        /* letters and digits: the word hash */

        s = i;
        i = llr_cls_hash_word(b, i, &h);

        if (i != s) {

            /* a word ends: the word, and the bigram if there is a pair */

            wlen = (uint32_t) (i - s);
            letters += wlen;

            if (llr_cls_class[b[s]] == LLR_CLS_DIGIT) {
                /* a word that starts with a digit: a number */
                numbers++;
                digits += wlen;
                big += (wlen >= 4);

                if (s == mark + 1 && i != e) {
                    /* digits [,./:] digits: 1,000  1/2  2.5  10:30 */
                    big += (mark_c == ',');
                    fracs += (mark_c != ',');
                }
            }

            llr_cls_word_keys(h);
            h = LLR_FNV1A32_INIT;

            if (i == e) {
                break;
            }

            if (line_start) {
                indented += (indent >= 4);
                line_start = 0;
            }

        } else if (i == e) {
            break;
        }

        /* a separator */

        c = b[i];

        if (c >= 0xc2 && llr_cls_mblen[c]) {

            /* a multi-byte character: a word or a punctuation byte */

            n = llr_cls_mblen[c];

            if (i + n > e) {
                /* cut by the end of the part */
                break;
            }

            c = llr_cls_mb(&b[i]);

            if (c == 0) {
                for (s = i; s < i + n; s++) {
                    h = (h ^ b[s]) * LLR_FNV1A32_PRIME;
                }

                /* a run of katakana is one word: a loanword, a name */
                while (llr_cls_kata(&b[i]) && i + 5 < e
                       && llr_cls_kata(&b[i + 3]))
                {
                    i += 3;
                    h = (((h ^ b[i]) * LLR_FNV1A32_PRIME ^ b[i + 1])
                         * LLR_FNV1A32_PRIME ^ b[i + 2]) * LLR_FNV1A32_PRIME;
                }

                llr_cls_word_keys(h);
                h = LLR_FNV1A32_INIT;
                cjk++;
                letters += n;
                i += n - 1;

                if (line_start) {
                    indented += (indent >= 4);
                    line_start = 0;
                }

                continue;
            }

            i += n - 1;
        }

        if (c == ' ') {
            indent += line_start;
            continue;
        }

        if (c == '\n') {
            n = b[i - 1];
            lines++;
            code += (n == ';' || n == '{' || n == '}');
            line_start = 1;
            indent = 0;
            continue;
        }

        if (c == '\t') {
            indent += line_start << 2;
            continue;
        }

        if (c == '\r') {
            continue;
        }

        if (line_start) {
            indented += (indent >= 4);
            line_start = 0;
        }

        /* punctuation: a character 3-gram ending here */

        n = (uint32_t) llr_cls_norm[b[i - 2]] << 16
            | (uint32_t) llr_cls_norm[b[i - 1]] << 8;

        *key++ = (n | c) ^ LLR_CLS_S_CHAR3;

        if ((n & 0xff00) == ('0' << 8)) {
            /* after a digit */
            mark = i;
            mark_c = c;
        }

        punct += llr_cls_punct[c];

        if (c == '`') {
            fences += (n == ('`' << 16 | '`' << 8));
        }
    }

    cnt = &st->cnt[st->group];

    cnt->tokenized += (uint32_t) len;
    cnt->words += words;
    cnt->numbers += numbers;
    cnt->digits += digits;
    cnt->big += big;
    cnt->fracs += fracs;
    cnt->lines += lines;
    cnt->code_lines += code;
    cnt->indented += indented;
    cnt->fences += fences;
    cnt->letters += letters;
    cnt->cjk += cjk;
    cnt->math += (uint32_t) (punct >> LLR_CLS_P_MATH) & 0xff;
    cnt->qmarks += (uint32_t) (punct >> LLR_CLS_P_QMARK) & 0xff;
    cnt->latex += (uint32_t) (punct >> LLR_CLS_P_LATEX) & 0xff;
    cnt->money += (uint32_t) (punct >> LLR_CLS_P_MONEY) & 0xff;
    cnt->pct += (uint32_t) (punct >> LLR_CLS_P_PCT) & 0xff;
    cnt->sentences += (uint32_t) (punct >> LLR_CLS_P_SENT) & 0xff;

    return (size_t) (key - keys);
}


/*
 * The second pass: the weight rows of the keys are summed in 16-bit
 * lanes, at most LLR_CLS_QRUN keys at a time (wrapping unsigned
 * arithmetic, exact when read back as signed), then added to the 64-bit
 * sums of the group.
 */

static inline __attribute__((always_inline)) void
llr_cls_weigh_w(llr_cls_state_t *st, const uint32_t *key, size_t nk,
    int wide)
{
    size_t          j, n;
    int32_t         da;
    int64_t        *f;
    uint32_t        b, shift;
    llr_v8hu_t      a0, a1, w;
    const int16_t  *tw, *dw, *row;

    f = st->facc[st->group];
    shift = st->shift;
    tw = st->m->tw;
    dw = st->m->dw;

    while (nk) {
        n = nk < LLR_CLS_QRUN ? nk : LLR_CLS_QRUN;
        nk -= n;

        memset(&a0, 0, sizeof(a0));
        memset(&a1, 0, sizeof(a1));
        da = 0;

        /* two keys a round: half the loop's branches */

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#pragma GCC unroll 2
#endif
        for (j = 0; j < n; j++) {
            b = (key[j] * 0x9e3779b1u) >> shift;
            row = tw + (size_t) b * (wide ? 2 * LLR_CLS_TCOLS
                                          : LLR_CLS_TCOLS);

            memcpy(&w, row, sizeof(w));
            a0 += w;

            if (wide) {
                memcpy(&w, row + LLR_CLS_TCOLS, sizeof(w));
                a1 += w;
            }

            da += dw[b];
        }

        key += n;

        for (j = 0; j < LLR_CLS_TCOLS; j++) {
            f[j] += (int16_t) a0[j];
        }

        if (wide) {
            for (j = 0; j < LLR_CLS_TCOLS; j++) {
                f[LLR_CLS_TCOLS + j] += (int16_t) a1[j];
            }
        }

        f[LLR_CLS_MAX_TASKS] += da;
    }
}


static void
llr_cls_tokenize(llr_cls_state_t *st, const unsigned char *p, size_t len,
    uint32_t first)
{
    size_t    j, nk;
    uint32_t  keys[LLR_CLS_MAXKEYS];

    nk = llr_cls_scan(st, p, len, first, first, keys);

    st->nfeat[st->group] += (uint32_t) nk;

    if (st->rec) {
        /* training: the buckets, in order */
        for (j = 0; j < nk; j++) {
            st->rec(st->rec_ctx, (keys[j] * 0x9e3779b1u) >> st->shift,
                    st->group);
        }

        return;
    }

    if (st->m->trows > LLR_CLS_TCOLS) {
        llr_cls_weigh_w(st, keys, nk, 1);

    } else {
        llr_cls_weigh_w(st, keys, nk, 0);
    }
}


/*
 * An option line: "A. " to "H. " (or "A) "), the option's first bytes
 * in b[3..7].  Called once per line, when 8 bytes of it have been seen,
 * when it ends, or when its first bytes show it is not an option.
 */

static void
llr_cls_opt_line(llr_cls_opt_t *o)
{
    uint32_t  b0, b3, b4;
    uint64_t  h;

    h = o->lhead;
    b0 = (uint32_t) (h & 0xff);
    b3 = (uint32_t) (h >> 24) & 0xff;
    b4 = (uint32_t) (h >> 32) & 0xff;

    o->lhave = 8;

    if (b0 < 'A' || b0 > 'H' || (((h >> 8) & 0xff) != '.'
                                 && ((h >> 8) & 0xff) != ')')
        || ((h >> 16) & 0xff) != ' ' || b3 == 0)
    {
        return;
    }

    if (o->opts++ == 0) {
        o->qlen = o->lstart;
        o->qlines = o->lines;
    }

    o->is_opt = 1;
    o->num += ((b3 >= '0' && b3 <= '9') || b3 == '-' || b3 == '$'
               || b3 == '.' || b3 == '(' || b3 == '\\');
    o->roman += (b3 == 'I' && (b4 == ' ' || b4 == ',' || b4 == 'I'
                               || b4 == 'V' || b4 == 0));

    h >>= 24;
    o->pairs += ((h & 0xffffffffu) == 0x65757254          /* True */
                 || (h & 0xffffffffffu) == 0x65736c6146   /* False */
                 || (h & 0xffffffffffu) == 0x676e6f7257   /* Wrong */
                 || (h & 0xffffffffu) == 0x20746f4e);     /* "Not " */
}


static void
llr_cls_opt_eol(llr_cls_opt_t *o, uint32_t off)
{
    uint32_t  n;

    if (o->lhave < 8 && o->lhave >= 3) {
        llr_cls_opt_line(o);
    }

    if (o->is_opt) {
        n = off - o->lstart;
        o->optbytes += n;
        o->optmax = n > o->optmax ? n : o->optmax;
    }
}


static void
llr_cls_opt_scan(llr_cls_opt_t *o, const unsigned char *p, size_t len)
{
    uint32_t              base, c, n, b0;
    const unsigned char  *s, *e, *nl;

    s = p;
    e = p + len;
    base = o->bytes;
    o->bytes += (uint32_t) len;

    for ( ;; ) {

        /* the opening of the current line */

        while (o->lhave < 8 && s < e && *s != '\n') {
            c = *s++;
            o->lhead |= (uint64_t) c << (8 * o->lhave);
            n = ++o->lhave;

            b0 = (uint32_t) (o->lhead & 0xff);

            if (b0 == '-' || b0 == '*' || (b0 >= '0' && b0 <= '9')) {
                /* a list item: "- x", "* x", "1. x", "2) x" */

                if (n == 2 && (b0 == '-' || b0 == '*')) {
                    o->items += (c == ' ');
                    o->lhave = 8;

                } else if (n == 2 && c != '.' && c != ')') {
                    o->lhave = 8;

                } else if (n == 3) {
                    o->items += (c == ' ');
                    o->lhave = 8;
                }

                continue;
            }

            if ((n == 1 && (c < 'A' || c > 'H'))
                || (n == 2 && c != '.' && c != ')')
                || (n == 3 && c != ' '))
            {
                o->lhave = 8;           /* not an option */

            } else if (n == 8) {
                llr_cls_opt_line(o);
            }
        }

        if (s == e) {
            return;
        }

        nl = memchr(s, '\n', (size_t) (e - s));
        if (nl == NULL) {
            return;
        }

        llr_cls_opt_eol(o, base + (uint32_t) (nl - p));

        o->lines++;
        o->lstart = base + (uint32_t) (nl - p) + 1;
        o->lhave = 0;
        o->lhead = 0;
        o->is_opt = 0;
        s = nl + 1;
    }
}


/* sink callbacks */

/*
 * A user message begins after another: the previous one becomes
 * context.  Its text has not been tokenized yet (user messages are
 * tokenized when they are known to be context, or at finish): only its
 * length moves.
 */

static void
llr_cls_fold(llr_cls_state_t *st)
{
    st->cnt[LLR_CLS_GROUP_CTX].bytes += st->cnt[LLR_CLS_GROUP_CUR].bytes;
    st->cnt[LLR_CLS_GROUP_CUR].bytes = 0;

    if (st->rec) {
        st->rec(st->rec_ctx, UINT32_MAX, -1);
    }
}


/*
 * Tokenize a message that has ended (its head, then its tail) into the
 * current group; for a user message, whether it ends with a question
 * mark.  Returns the number of bytes tokenized.
 */

static size_t
llr_cls_msg_tokenize(llr_cls_state_t *st, llr_cls_msg_t *mg, int user,
    int tail)
{
    size_t                  n;
    unsigned char          *t;
    const unsigned char    *p, *start, *last;

    last = NULL;

    if (mg->head_len) {
        llr_cls_tokenize(st, mg->head, mg->head_len, 1);
        last = &mg->head[mg->head_len - 1];
    }

    n = tail ? mg->msg_bytes - mg->head_len : 0;
    if (n > LLR_CLS_TAIL) {
        n = LLR_CLS_TAIL;
    }

    t = mg->tail + LLR_CLS_TAIL - n;
    start = mg->head;

    if (n) {
        last = &t[n - 1];
        start = t;

        /* the rest of a character the head or the cut left: not a word */
        while (n && (*t & 0xc0) == 0x80) {
            t++;
            n--;
        }

        if (n) {
            llr_cls_tokenize(st, t, n, 0);
        }
    }

    if (user && last) {
        /* it ends with a question mark (trailing space aside), or "？" */

        for (p = last; p > start && (*p == ' ' || *p == '\n'); p--) {
            /* void */
        }

        st->cnt[st->group].ends_q = (*p == '?'
                                     || (p >= start + 2 && p[0] == 0x9f
                                         && p[-1] == 0xbc && p[-2] == 0xef));
    }

    return mg->head_len + n;
}


/*
 * The ring keeps context messages in message order.  A non-user message
 * is received into its slot and kept when it ends.  A user message is
 * received into st->msg; when another message begins after it, the next
 * slot is reserved for it (empty), and it is copied there when the next
 * user message begins, unless eight newer context messages have taken
 * the slot over by then.  Messages without text take no slot.  The ring
 * has one slot more than it keeps: the one a non-user message is
 * received into, so that receiving one without text drops nothing.
 */

static void
llr_cls_ctx_keep(llr_cls_state_t *st, int user)
{
    uint32_t  k;

    k = st->ctx_k;

    if (user) {
        st->user_pos = st->nctx;
        st->user_k = k;
        st->ctx[k].msg_bytes = 0;
        st->ctx[k].head_len = 0;
    }

    st->ctx_user[k] = (uint8_t) user;
    st->nctx++;
    st->ctx_k = (k + 1 == LLR_CLS_CTX_RING) ? 0 : k + 1;
}


static void
llr_cls_ctx_reserve(llr_cls_state_t *st)
{
    if (st->pending && !st->reserved && st->msg.msg_bytes && st->budget) {
        llr_cls_ctx_keep(st, 1);
        st->reserved = 1;
    }
}


static void
llr_cls_ctx_user(llr_cls_state_t *st)
{
    llr_cls_msg_t  *slot, *mg;

    mg = &st->msg;

    if (mg->msg_bytes == 0
        || st->nctx - st->user_pos > LLR_CLS_CTX_SLOTS)
    {
        return;
    }

    slot = &st->ctx[st->user_k];

    slot->msg_bytes = mg->msg_bytes;
    slot->head_len = mg->head_len;
    memcpy(slot->head, mg->head, mg->head_len);

    /* as context only its head is tokenized: the tail stays behind */
}


/* the context, newest first, until the budget is spent */

static void
llr_cls_ctx_tokenize(llr_cls_state_t *st)
{
    size_t    n;
    uint32_t  i, k;

    st->group = LLR_CLS_GROUP_CTX;

    for (i = 0; i < LLR_CLS_CTX_SLOTS && i < st->nctx && st->budget; i++) {
        k = (st->nctx - 1 - i) % LLR_CLS_CTX_RING;
        n = llr_cls_msg_tokenize(st, &st->ctx[k], st->ctx_user[k], 0);
        st->budget = n < st->budget ? st->budget - n : 0;
    }
}


static void
llr_cls_message_begin(void *ctx, const char *role, size_t turn)
{
    llr_cls_state_t  *st = ctx;

    st->is_user = (role == NULL
                   || (role[0] == 'u' && role[1] == 's' && role[2] == 'e'
                       && role[3] == 'r' && role[4] == '\0'));
    st->open = 1;

    /* a user message followed by another one: its place in the ring */
    llr_cls_ctx_reserve(st);

    if (st->is_user) {
        if (st->user_msgs++) {
            llr_cls_fold(st);

            /* the previous user turn is context now */

            if (st->reserved) {
                llr_cls_ctx_user(st);
            }
        }

        st->pending = 0;
        st->reserved = 0;
        st->group = LLR_CLS_GROUP_CUR;
        st->in = &st->msg;
        st->skip = 0;
        memset(&st->opt, 0, sizeof(llr_cls_opt_t));

    } else {
        st->group = LLR_CLS_GROUP_CTX;
        st->in = &st->ctx[st->ctx_k];
        /*
         * a system (or developer) message is context to read; an
         * assistant's or a tool's text only counts towards the length
         */
        st->skip = (st->budget == 0 || role == NULL
                    || !((role[0] == 's' && strcmp(role, "system") == 0)
                         || (role[0] == 'd'
                             && strcmp(role, "developer") == 0)));
    }

    st->in->msg_bytes = 0;
    st->in->head_len = 0;
}


static void
llr_cls_text(void *ctx, const unsigned char *data, size_t len)
{
    size_t            n, keep;
    llr_cls_msg_t    *mg;
    llr_cls_state_t  *st = ctx;

    st->cnt[st->group].bytes += len;

    if (st->skip) {
        return;
    }

    mg = st->in;

    if (mg->head_len < LLR_CLS_HEAD) {
        n = LLR_CLS_HEAD - mg->head_len;
        if (n > len) {
            n = len;
        }

        memcpy(mg->head + mg->head_len, data, n);
        mg->head_len += n;
    }

    if (mg != &st->msg) {
        /* context: only its head is ever tokenized, no tail kept */
        mg->msg_bytes += len;
        return;
    }

    /* a user message: its option lines */
    llr_cls_opt_scan(&st->opt, data, len);

    if (mg->msg_bytes < LLR_CLS_HEAD) {
        n = LLR_CLS_HEAD - mg->msg_bytes;
        if (n >= len) {
            mg->msg_bytes += len;
            return;
        }

        mg->msg_bytes += n;
        data += n;
        len -= n;
    }

    /* beyond the head: keep the last LLR_CLS_TAIL bytes */

    if (len >= LLR_CLS_TAIL) {
        memcpy(mg->tail, data + len - LLR_CLS_TAIL, LLR_CLS_TAIL);

    } else {
        keep = LLR_CLS_TAIL - len;
        memmove(mg->tail, mg->tail + len, keep);
        memcpy(mg->tail + keep, data, len);
    }

    mg->msg_bytes += len;
}


static void
llr_cls_message_end(void *ctx)
{
    llr_cls_state_t  *st = ctx;

    if (!st->open) {
        return;
    }

    st->open = 0;

    if (st->skip) {
        return;
    }

    if (st->is_user) {
        /* tokenized later: as context or as the last user turn */
        st->pending = 1;
        return;
    }

    if (st->in->msg_bytes && st->budget) {
        llr_cls_ctx_keep(st, 0);
    }
}


size_t
llr_cls_state_size(const llr_cls_model_t *m)
{
    return sizeof(llr_cls_state_t);
}


void
llr_cls_state_init(void *state, const llr_cls_model_t *m)
{
    llr_cls_state_t  *st = state;

    /* the message buffers and the dense features are written before use */
    memset(st, 0, offsetof(llr_cls_state_t, dense));
    st->m = m;
    st->group = LLR_CLS_GROUP_CUR;
    st->is_user = 1;
    st->shift = 32 - m->hash_bits;
    st->in = &st->msg;
    st->budget = LLR_CLS_CTX_BUDGET;
}


void
llr_cls_state_set_budget(void *state, size_t bytes)
{
    llr_cls_state_t  *st = state;

    st->budget = bytes;
}


void
llr_cls_state_set_recorder(void *state, llr_cls_record_pt rec, void *ctx)
{
    llr_cls_state_t  *st = state;

    st->rec = rec;
    st->rec_ctx = ctx;
}


void
llr_cls_sink(void *state, llr_text_sink_t *sink)
{
    sink->message_begin = llr_cls_message_begin;
    sink->text = llr_cls_text;
    sink->message_end = llr_cls_message_end;
    sink->ctx = state;
}


/*
 * log2(1 + x) / div, at most 1: the integer part from the highest set
 * bit, the fraction linear in between (cheap, monotone, exact at powers
 * of two)
 */

static float
llr_cls_log2n(uint32_t x, float div)
{
    int       e;
    uint32_t  v;
    float     r;

    v = x + 1;
    e = 31 - __builtin_clz(v);
    r = ((float) e + (float) (v - (1u << e)) / (float) (1u << e)) / div;

    return r > 1.0f ? 1.0f : r;
}


static float
llr_cls_min1(float v)
{
    return v > 1.0f ? 1.0f : v;
}


static void
llr_cls_dense(llr_cls_state_t *st, const llr_req_view_t *view)
{
    int             k;
    float          *d, opts, words;
    double          tok;
    llr_cls_cnt_t  *c, *x;
    llr_cls_opt_t  *o;

    d = st->dense;
    memset(d, 0, sizeof(st->dense));
    c = &st->cnt[LLR_CLS_GROUP_CUR];
    x = &st->cnt[LLR_CLS_GROUP_CTX];

    /* 0..9: length bucket of the last user turn */
    k = 27 - __builtin_clz(c->bytes + 1);
    d[k < 0 ? 0 : (k > 9 ? 9 : k)] = 1.0f;
    d[10] = llr_cls_log2n(c->bytes, 14.0f);

    tok = c->tokenized ? c->tokenized : 1;

    d[11] = c->fences > 0;
    d[12] = (float) (c->code_lines + c->indented) / (c->lines + 1.0f);
    d[13] = (c->code_lines + c->indented) >= 3;
    d[14] = (float) (c->digits / tok);
    d[15] = (float) (c->math / tok);
    d[16] = llr_cls_log2n(c->numbers, 5.0f);
    d[17] = c->latex > 0;
    d[18] = c->qmarks > 0;
    d[19] = c->ends_q != 0;

    if (view) {
        d[20] = view->user_turns <= 1;
        d[21] = view->user_turns == 2;
        d[22] = view->user_turns >= 3;
        d[23] = view->has_tools;
        d[24] = view->has_response_format;
        d[25] = view->has_system;

    } else {
        d[20] = 1.0f;
    }

    d[26] = llr_cls_log2n(c->lines, 8.0f);
    d[27] = llr_cls_log2n(c->words, 12.0f);
    d[28] = c->lines >= 5;
    d[29] = llr_cls_log2n(x->bytes, 16.0f);

    /* 30..41: scripts, words, lists, the tokenized context; 42..45 0 */
    words = c->words ? c->words : 1;
    d[30] = (float) c->cjk / words;
    d[31] = c->cjk > 0;
    d[32] = llr_cls_min1((float) c->letters / words / 12.0f);
    d[33] = llr_cls_log2n(st->opt.items, 4.0f);
    d[34] = st->opt.items >= 3;
    d[35] = x->fences > 0;
    d[36] = (x->code_lines + x->indented) >= 3;
    d[37] = x->cjk > 0;
    d[38] = x->qmarks > 0;
    d[39] = llr_cls_log2n(x->numbers, 5.0f);
    d[40] = x->latex > 0;
    d[41] = llr_cls_log2n(x->words, 10.0f);

    d[46] = (float) (c->qmarks / tok * 20.0 > 1.0 ? 1.0
                                                 : c->qmarks / tok * 20.0);
    d[47] = c->numbers >= 4;

    /* difficulty: how much there is to do */
    d[48] = llr_cls_log2n(c->sentences, 4.0f);
    d[49] = c->numbers >= 6;
    d[50] = c->numbers >= 8;
    d[51] = llr_cls_log2n(c->big, 3.0f);
    d[52] = c->fracs > 0;
    d[53] = c->pct > 0;
    d[54] = llr_cls_log2n(c->money, 3.0f);
    d[55] = llr_cls_min1(c->bytes / 1024.0f);
    d[56] = llr_cls_min1(c->words / (c->sentences + 1.0f) / 40.0f);
    d[57] = llr_cls_min1(4.0f * c->numbers / (c->words + 1.0f));
    d[58] = llr_cls_log2n(c->digits, 8.0f);
    d[59] = c->numbers >= 12;
    d[60] = c->sentences >= 5;
    d[61] = llr_cls_log2n(c->fracs + c->pct, 3.0f);
    d[62] = c->bytes >= 400;
    d[63] = c->bytes >= 600;

    /* 64..79: the options of a multiple-choice question (version 3) */
    o = &st->opt;

    if (o->bytes > o->lstart) {
        /* the last line, without a newline */
        llr_cls_opt_eol(o, o->bytes);
        o->lstart = o->bytes;
    }

    d[75] = llr_cls_log2n(o->lines, 6.0f);

    if (o->opts < 2) {
        return;
    }

    opts = (float) o->opts;
    d[64] = 1.0f;
    d[65] = o->opts >= 4;
    d[66] = llr_cls_log2n(o->qlen, 12.0f);
    d[67] = o->qlen >= 300;
    d[68] = o->qlen < 80;
    d[69] = llr_cls_log2n(o->optbytes, 11.0f);
    d[70] = o->optbytes < 8 * o->opts;
    d[71] = o->num / opts;
    d[72] = o->num == o->opts;
    d[73] = o->roman > 0;
    d[74] = o->qlines >= 2;
    d[76] = o->optmax * opts > 2.5f * o->optbytes;
    d[77] = llr_cls_log2n(o->optmax, 8.0f);
    d[78] = o->optbytes >= 40 * o->opts;
    d[79] = o->pairs > 0;
}


/*
 * A bit per dense feature that is not zero (as d != 0.0f: -0.0 is
 * zero, NaN is not), four features at a time where SSE2 is.
 */

static void
llr_cls_nonzero(const float *d, uint64_t *mask)
{
    int       g;
#if defined(__SSE2__)
    __m128    zero;
    uint64_t  bits;

    zero = _mm_setzero_ps();
#endif

    memset(mask, 0, (LLR_CLS_NSTRUCT + 63) / 64 * sizeof(uint64_t));

#if defined(__SSE2__)

    for (g = 0; g < LLR_CLS_NSTRUCT; g += 4) {
        bits = (uint64_t) _mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(d + g),
                                                        zero));
        mask[g / 64] |= bits << (g % 64);
    }

#else

    for (g = 0; g < LLR_CLS_NSTRUCT; g++) {
        mask[g / 64] |= (uint64_t) (d[g] != 0.0f) << (g % 64);
    }

#endif
}


void
llr_cls_finish(void *state, const llr_req_view_t *view,
    llr_cls_result_t *res)
{
    int                     g, h, best, nz;
    size_t                  t, nt, nv;
    uint64_t                nzm[(LLR_CLS_NSTRUCT + 63) / 64], bits;
    float                   z[LLR_CLS_MAX_TASKS], d, zd, mx;
    uint8_t                 nzi[LLR_CLS_NSTRUCT];
    llr_v4sf_t              zv[LLR_CLS_MAX_TASKS / 4], w;
    double                  inv[2], a;
    llr_cls_state_t        *st = state;
    const llr_cls_model_t  *m;

    m = st->m;
    nt = m->ntasks;

    /* a message the scanner did not end, then the last user turn */

    llr_cls_message_end(st);

    llr_cls_ctx_tokenize(st);

    if (st->pending) {
        st->group = LLR_CLS_GROUP_CUR;
        (void) llr_cls_msg_tokenize(st, &st->msg, 1, 1);
        st->pending = 0;
    }

    llr_cls_dense(st, view);

    for (g = 0; g < 2; g++) {
        inv[g] = st->nfeat[g] ? 1.0 / sqrt((double) st->nfeat[g]) : 0.0;
    }
    inv[LLR_CLS_GROUP_CTX] *= m->ctx_weight;

    for (t = 0; t < nt; t++) {
        a = inv[0] * (double) st->facc[0][t]
            + inv[1] * (double) st->facc[1][t];
        z[t] = m->task_bias[t] + m->task_scale * (float) a;
    }

    a = inv[0] * (double) st->facc[0][LLR_CLS_MAX_TASKS]
        + inv[1] * (double) st->facc[1][LLR_CLS_MAX_TASKS];
    zd = m->diff_bias + m->diff_scale * (float) a;

    /*
     * the dense features, most of them zero: four task weights at a
     * time (the columns past ntasks are zero), then the difficulty
     */

    memset(zv, 0, sizeof(zv));
    nz = 0;
    nv = (nt + 3) / 4;

    llr_cls_nonzero(st->dense, nzm);

    for (h = 0; h < LLR_CLS_NSTRUCT; h += 64) {

        /* in ascending order, as a loop over every feature would */

        for (bits = nzm[h / 64]; bits; bits &= bits - 1) {
            g = h + __builtin_ctzll(bits);
            d = st->dense[g];

            nzi[nz++] = (uint8_t) g;
            zd += d * m->diff_dense[g];

            for (t = 0; t < nv; t++) {
                memcpy(&w, &m->task_dense[g][4 * t], sizeof(w));
                zv[t] += d * w;
            }
        }
    }

    for (t = 0; t < nt; t++) {
        z[t] += zv[t / 4][t % 4];
    }

    best = 0;
    mx = z[0];
    for (t = 1; t < nt; t++) {
        if (z[t] > mx) {
            mx = z[t];
            best = (int) t;
        }
    }

    /* the difficulty: shared dense weights and those of the task */

    for (g = 0; g < nz; g++) {
        zd += st->dense[nzi[g]] * m->diff_tdense[best][nzi[g]];
    }

    /* the logits: llr_cls_probabilities() makes them a distribution */
    for (t = 0; t < nt; t++) {
        res->scores[t] = z[t];
    }

    res->ntasks = nt;
    res->task = best;
    res->task_name = m->names[best];
    res->raw = zd;

    /* calibrated for the predicted task */
    zd = m->calib[best][0] * zd + m->calib[best][1];
    res->difficulty = 1.0 / (1.0 + expf(-zd));
}


int
llr_cls_term_buckets(const llr_cls_model_t *m, const char *term,
    size_t len, uint32_t bucket[2])
{
    size_t                i, n;
    uint32_t              h[3], k, c;
    const unsigned char  *p;

    p = (const unsigned char *) term;
    k = 0;
    i = 0;

    while (i < len) {
        c = llr_cls_word[p[i]];

        if (c != 0) {
            /* a word, hashed as llr_cls_scan() does */

            if (k == 2) {
                return 0;
            }

            h[k] = LLR_FNV1A32_INIT;
            while (i < len && (c = llr_cls_word[p[i]]) != 0) {
                h[k] = (h[k] ^ c) * LLR_FNV1A32_PRIME;
                i++;
            }

            k++;
            continue;
        }

        n = llr_cls_mblen[p[i]];

        if (n && i + n <= len && llr_cls_mb(&p[i]) == 0) {
            /* a word of one character, or a run of katakana */

            if (k == 2) {
                return 0;
            }

            h[k] = LLR_FNV1A32_INIT;
            for (c = 0; c < n; c++) {
                h[k] = (h[k] ^ p[i + c]) * LLR_FNV1A32_PRIME;
            }

            while (llr_cls_kata(&p[i]) && i + 6 <= len
                   && llr_cls_kata(&p[i + 3]))
            {
                i += 3;
                for (c = 0; c < 3; c++) {
                    h[k] = (h[k] ^ p[i + c]) * LLR_FNV1A32_PRIME;
                }
            }

            k++;
            i += n;
            continue;
        }

        i += n ? n : 1;
    }

    if (k == 1) {
        h[2] = h[0] ^ LLR_CLS_S_WORD;

    } else if (k == 2) {
        h[2] = (h[0] * LLR_FNV1A32_PRIME) ^ h[1] ^ LLR_CLS_S_BIGRAM;

    } else {
        return 0;
    }

    bucket[0] = (h[2] * 0x9e3779b1u) >> (32 - m->hash_bits);
    bucket[1] = ((h[2] ^ LLR_CLS_S_FIRST) * 0x9e3779b1u)
                >> (32 - m->hash_bits);

    return 2;
}


void
llr_cls_probabilities(llr_cls_result_t *res)
{
    size_t  t;
    double  mx, sum;

    mx = res->scores[res->task];
    sum = 0;

    for (t = 0; t < res->ntasks; t++) {
        res->scores[t] = exp(res->scores[t] - mx);
        sum += res->scores[t];
    }

    for (t = 0; t < res->ntasks; t++) {
        res->scores[t] /= sum;
    }
}


const float *
llr_cls_state_dense(const void *state)
{
    return ((const llr_cls_state_t *) state)->dense;
}


void
llr_cls_state_counts(const void *state, double *ncur, double *nctx)
{
    const llr_cls_state_t  *st = state;

    *ncur = st->nfeat[LLR_CLS_GROUP_CUR];
    *nctx = st->nfeat[LLR_CLS_GROUP_CTX];
}


int
llr_cls_body(void *state, const llr_alloc_t *alloc, const unsigned char *body,
    size_t len, llr_cls_result_t *res, llr_req_view_t *view, char *err,
    size_t errlen)
{
    const char       *param, *msg;
    llr_req_t        *rq;
    llr_req_err_e     rc;
    llr_text_sink_t   sink;

    llr_cls_sink(state, &sink);

    rq = llr_req_create(alloc, LLR_EP_ANY, NULL, &sink);
    if (rq == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    rc = llr_req_feed(rq, body, len);
    if (rc == LLR_REQ_OK) {
        rc = llr_req_finish(rq);
    }

    /* a bare {"prompt": ...} has no "model": that is fine here */
    param = llr_req_error_param(rq);
    if (rc == LLR_REQ_ERR_MISSING && param && strcmp(param, "model") == 0) {
        rc = LLR_REQ_OK;
    }

    if (rc != LLR_REQ_OK) {
        /* the message lives in the scanner: copied before destroying */
        msg = llr_req_error_message(rq);
        snprintf(err, errlen, "%s", msg ? msg : "bad request");
        llr_req_destroy(rq);
        return -1;
    }

    llr_cls_finish(state, llr_req_view(rq), res);

    if (view) {
        *view = *llr_req_view(rq);
        view->model = NULL;             /* the scanner's, freed below */
        view->model_len = 0;
    }

    llr_req_destroy(rq);

    return 0;
}


const char *
llr_cls_task_name(const llr_cls_model_t *m, int task)
{
    if (task < 0 || (uint32_t) task >= m->ntasks) {
        return NULL;
    }

    return m->names[task];
}


int
llr_cls_task_index(const llr_cls_model_t *m, const char *name, size_t len)
{
    uint32_t  t;

    for (t = 0; t < m->ntasks; t++) {
        if (strlen(m->names[t]) == len && memcmp(m->names[t], name, len) == 0)
        {
            return (int) t;
        }
    }

    return -1;
}


size_t
llr_cls_ntasks(const llr_cls_model_t *m)
{
    return m->ntasks;
}


/* the file format */


static uint32_t
llr_cls_get32(const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}


static float
llr_cls_getf(const unsigned char *p)
{
    float     f;
    uint32_t  v;

    v = llr_cls_get32(p);
    memcpy(&f, &v, 4);
    return f;
}


static unsigned char *
llr_cls_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
    return p + 4;
}


static unsigned char *
llr_cls_putf(unsigned char *p, float f)
{
    uint32_t  v;

    memcpy(&v, &f, 4);
    return llr_cls_put32(p, v);
}


static size_t
llr_cls_trows(uint32_t ntasks)
{
    return ntasks <= LLR_CLS_TCOLS ? LLR_CLS_TCOLS : 2 * LLR_CLS_TCOLS;
}


/* offsets of the parts of a file */
typedef struct {
    size_t  names, bias, tdense, ddense, dtdense, calib, tw, dw, sum, total;
} llr_cls_layout_t;


static void
llr_cls_layout(uint32_t bits, uint32_t ntasks, llr_cls_layout_t *l)
{
    size_t  nb, nd;

    nb = (size_t) 1 << bits;
    nd = LLR_CLS_NSTRUCT;
    l->names = LLR_CLS_HDR;
    l->bias = l->names + (size_t) ntasks * LLR_CLS_TASK_NAME_LEN;
    l->tdense = l->bias + 4 * (size_t) ntasks;
    l->ddense = l->tdense + 4 * nd * ntasks;
    l->dtdense = l->ddense + 4 * nd;
    l->calib = l->dtdense + 4 * nd * ntasks;
    l->tw = (l->calib + 4 * LLR_CLS_NCALIB * (size_t) ntasks + 15)
            & ~(size_t) 15;
    l->dw = l->tw + 2 * nb * llr_cls_trows(ntasks);
    l->sum = l->dw + 2 * nb;
    l->total = l->sum + 8;
}


static int
llr_cls_little_endian(void)
{
    uint16_t  v = 1;

    return *(unsigned char *) &v == 1;
}


static llr_cls_model_t *
llr_cls_model_decode(const unsigned char *data, size_t len, int copy,
    const llr_alloc_t *alloc, char *err,
    size_t errlen)
{
    int                 bad;
    size_t              i, t, nw;
    uint32_t            v, bits, ntasks;
    int16_t            *w;
    uint64_t            sum;
    const char         *name;
    llr_cls_model_t    *m;
    llr_cls_layout_t    l;
    const unsigned char *p;

    if (len < LLR_CLS_HDR + 8) {
        snprintf(err, errlen, "classifier model is truncated (%zu bytes)",
                 len);
        return NULL;
    }

    if (memcmp(data, LLR_CLS_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a classifier model file (bad magic)");
        return NULL;
    }

    v = llr_cls_get32(data + 8);
    if (v != LLR_CLS_VERSION) {
        snprintf(err, errlen, "classifier model version %u is not "
                 "supported (this build reads version %d: retrain it with "
                 "llm-route-train)", v, LLR_CLS_VERSION);
        return NULL;
    }

    bits = llr_cls_get32(data + 12);
    ntasks = llr_cls_get32(data + 16);

    if (bits < 8 || bits > 24 || ntasks < 2 || ntasks > LLR_CLS_MAX_TASKS
        || llr_cls_get32(data + 20) != LLR_CLS_NSTRUCT
        || llr_cls_get32(data + 24) != LLR_CLS_NCALIB)
    {
        snprintf(err, errlen, "classifier model has unsupported dimensions "
                 "(hash bits %u, tasks %u, dense %u, calibration %u)", bits,
                 ntasks, llr_cls_get32(data + 20), llr_cls_get32(data + 24));
        return NULL;
    }

    llr_cls_layout(bits, ntasks, &l);

    if (len != l.total) {
        snprintf(err, errlen, "classifier model is %s: %zu bytes, "
                 "expected %zu", len < l.total ? "truncated" : "too long",
                 len, l.total);
        return NULL;
    }

    sum = llr_fnv1a64(LLR_FNV1A64_INIT, data, l.sum);
    if (sum != ((uint64_t) llr_cls_get32(data + l.sum)
                | (uint64_t) llr_cls_get32(data + l.sum + 4) << 32))
    {
        snprintf(err, errlen, "classifier model checksum mismatch "
                 "(file corrupted)");
        return NULL;
    }

    m = alloc->malloc(alloc->ctx, sizeof(llr_cls_model_t));
    if (m == NULL) {
        snprintf(err, errlen, "out of memory loading classifier model");
        return NULL;
    }

    memset(m, 0, sizeof(llr_cls_model_t));

    m->hash_bits = bits;
    m->ntasks = ntasks;
    m->trows = (uint32_t) llr_cls_trows(ntasks);
    m->ctx_weight = llr_cls_getf(data + 28);
    m->task_scale = llr_cls_getf(data + 32);
    m->diff_scale = llr_cls_getf(data + 36);
    m->diff_bias = llr_cls_getf(data + 40);

    for (t = 0; t < ntasks; t++) {
        name = (const char *) data + l.names + t * LLR_CLS_TASK_NAME_LEN;
        if (name[0] == '\0'
            || memchr(name, '\0', LLR_CLS_TASK_NAME_LEN) == NULL)
        {
            snprintf(err, errlen, "classifier model has a bad task name");
            return NULL;
        }
        memcpy(m->names[t], name, LLR_CLS_TASK_NAME_LEN);

        for (i = 0; i < t; i++) {
            if (strcmp(m->names[i], m->names[t]) == 0) {
                snprintf(err, errlen, "classifier model has a duplicate "
                         "task name \"%s\"", m->names[t]);
                return NULL;
            }
        }

        m->task_bias[t] = llr_cls_getf(data + l.bias + 4 * t);

        for (i = 0; i < LLR_CLS_NSTRUCT; i++) {
            m->task_dense[i][t] = llr_cls_getf(data + l.tdense
                                               + 4 * (i * ntasks + t));
            m->diff_tdense[t][i] = llr_cls_getf(data + l.dtdense
                                        + 4 * (t * LLR_CLS_NSTRUCT + i));
        }

        for (i = 0; i < LLR_CLS_NCALIB; i++) {
            m->calib[t][i] = llr_cls_getf(data + l.calib
                                          + 4 * (t * LLR_CLS_NCALIB + i));
        }
    }

    for (i = 0; i < LLR_CLS_NSTRUCT; i++) {
        m->diff_dense[i] = llr_cls_getf(data + l.ddense + 4 * i);
    }

    /* a NaN or an infinity would make every answer NaN */

    bad = !isfinite(m->ctx_weight) || !isfinite(m->task_scale)
          || !isfinite(m->diff_scale) || !isfinite(m->diff_bias);

    for (t = 0; t < ntasks && !bad; t++) {
        bad = !isfinite(m->task_bias[t]) || !isfinite(m->calib[t][0])
              || !isfinite(m->calib[t][1]);

        for (i = 0; i < LLR_CLS_NSTRUCT && !bad; i++) {
            bad = !isfinite(m->task_dense[i][t])
                  || !isfinite(m->diff_tdense[t][i]);
        }
    }

    for (i = 0; i < LLR_CLS_NSTRUCT && !bad; i++) {
        bad = !isfinite(m->diff_dense[i]);
    }

    if (bad) {
        snprintf(err, errlen, "classifier model has a weight that is not "
                 "a finite number");
        return NULL;
    }

    nw = (l.sum - l.tw) / 2;

    p = data + l.tw;
    for (i = 0; i < nw; i++) {
        int16_t  q = (int16_t) (uint16_t) (p[2 * i] | p[2 * i + 1] << 8);

        if (q > LLR_CLS_QMAX || q < -LLR_CLS_QMAX) {
            snprintf(err, errlen, "classifier model has a weight out of "
                     "range (%d at %zu)", q, i);
            return NULL;
        }
    }

    if (copy || !llr_cls_little_endian()) {
        w = alloc->malloc(alloc->ctx, nw * 2);
        if (w == NULL) {
            snprintf(err, errlen, "out of memory loading classifier model");
            return NULL;
        }

        p = data + l.tw;
        for (i = 0; i < nw; i++) {
            w[i] = (int16_t) (uint16_t) (p[2 * i] | p[2 * i + 1] << 8);
        }

        m->tw = w;

    } else {
        m->tw = (const int16_t *) (data + l.tw);
    }

    m->dw = m->tw + ((size_t) 1 << bits) * m->trows;

    llr_cls_tables();

    return m;
}


llr_cls_model_t *
llr_cls_model_load(const unsigned char *data, size_t len,
    const llr_alloc_t *alloc, char *err, size_t errlen)
{
    return llr_cls_model_decode(data, len, 1, alloc, err, errlen);
}


void
llr_cls_model_cleanup(llr_cls_model_t *m)
{
    /* nothing is held outside the caller's pool */
}


static void *
llr_cls_malloc(void *ctx, size_t n)
{
    return malloc(n);
}


const llr_cls_model_t *
llr_cls_default_model(void)
{
    char                      err[256];
    static llr_cls_model_t   *def;
    static const llr_alloc_t  heap = { llr_cls_malloc, NULL, NULL, NULL };

    /* written once, at configuration time (see the header) */
    if (def == NULL) {
        def = llr_cls_model_decode(llr_cls_default_image,
                                   llr_cls_default_image_len, 0, &heap,
                                   err, sizeof(err));
    }

    return def;
}


static float
llr_cls_maxabs(const float *w, size_t n)
{
    size_t  i;
    float   mx;

    mx = 0;
    for (i = 0; i < n; i++) {
        if (fabsf(w[i]) > mx) {
            mx = fabsf(w[i]);
        }
    }

    return mx > 0 ? mx : 1.0f;
}


static int16_t
llr_cls_q16(float w, float scale)
{
    long  v;

    v = lrintf(w / scale);
    return (int16_t) (v > LLR_CLS_QMAX ? LLR_CLS_QMAX
                      : (v < -LLR_CLS_QMAX ? -LLR_CLS_QMAX : v));
}


unsigned char *
llr_cls_model_write(const llr_cls_params_t *p, size_t *len)
{
    size_t            nb, b, t, i, trows;
    float             ts, ds;
    uint64_t          sum;
    unsigned char    *img, *q;
    llr_cls_layout_t  l;

    if (p->ntasks < 2 || p->ntasks > LLR_CLS_MAX_TASKS || p->hash_bits < 8
        || p->hash_bits > 24)
    {
        return NULL;
    }

    llr_cls_layout(p->hash_bits, p->ntasks, &l);
    nb = (size_t) 1 << p->hash_bits;
    trows = llr_cls_trows(p->ntasks);

    img = calloc(1, l.total);
    if (img == NULL) {
        return NULL;
    }

    ts = llr_cls_maxabs(p->task_hashed, nb * p->ntasks) / LLR_CLS_QMAX;
    ds = llr_cls_maxabs(p->diff_hashed, nb) / LLR_CLS_QMAX;

    memcpy(img, LLR_CLS_MAGIC, 8);
    q = llr_cls_put32(img + 8, LLR_CLS_VERSION);
    q = llr_cls_put32(q, p->hash_bits);
    q = llr_cls_put32(q, p->ntasks);
    q = llr_cls_put32(q, LLR_CLS_NSTRUCT);
    q = llr_cls_put32(q, LLR_CLS_NCALIB);
    q = llr_cls_putf(q, p->ctx_weight);
    q = llr_cls_putf(q, ts);
    q = llr_cls_putf(q, ds);
    (void) llr_cls_putf(q, p->diff_bias);

    for (t = 0; t < p->ntasks; t++) {
        strncpy((char *) img + l.names + t * LLR_CLS_TASK_NAME_LEN,
                p->task_names[t], LLR_CLS_TASK_NAME_LEN - 1);
        llr_cls_putf(img + l.bias + 4 * t, p->task_bias[t]);
    }

    for (i = 0; i < LLR_CLS_NSTRUCT * p->ntasks; i++) {
        llr_cls_putf(img + l.tdense + 4 * i, p->task_dense[i]);
    }

    for (i = 0; i < LLR_CLS_NSTRUCT; i++) {
        llr_cls_putf(img + l.ddense + 4 * i, p->diff_dense[i]);
    }

    for (i = 0; i < LLR_CLS_NSTRUCT * p->ntasks; i++) {
        llr_cls_putf(img + l.dtdense + 4 * i,
                     p->diff_tdense ? p->diff_tdense[i] : 0.0f);
    }

    /* no calibration: a = 1, b = 0 */
    for (i = 0; i < LLR_CLS_NCALIB * p->ntasks; i++) {
        llr_cls_putf(img + l.calib + 4 * i,
                     p->calib ? p->calib[i] : (i % LLR_CLS_NCALIB == 0));
    }

    for (b = 0; b < nb; b++) {
        for (t = 0; t < p->ntasks; t++) {
            int16_t  v = llr_cls_q16(p->task_hashed[b * p->ntasks + t], ts);

            q = img + l.tw + 2 * (b * trows + t);
            q[0] = (unsigned char) v;
            q[1] = (unsigned char) ((uint16_t) v >> 8);
        }

        {
            int16_t  v = llr_cls_q16(p->diff_hashed[b], ds);

            q = img + l.dw + 2 * b;
            q[0] = (unsigned char) v;
            q[1] = (unsigned char) ((uint16_t) v >> 8);
        }
    }

    sum = llr_fnv1a64(LLR_FNV1A64_INIT, img, l.sum);
    llr_cls_put32(img + l.sum, (uint32_t) sum);
    llr_cls_put32(img + l.sum + 4, (uint32_t) (sum >> 32));

    *len = l.total;
    return img;
}


int
llr_cls_model_params(const llr_cls_model_t *m, llr_cls_params_t *p)
{
    size_t   nb, b, t, i;
    float   *th, *dh, *td, *dd, *tb, *dt, *cb;

    nb = (size_t) 1 << m->hash_bits;

    memset(p, 0, sizeof(llr_cls_params_t));

    th = malloc(nb * m->ntasks * sizeof(float));
    dh = malloc(nb * sizeof(float));
    td = malloc(LLR_CLS_NSTRUCT * m->ntasks * sizeof(float));
    dd = malloc(LLR_CLS_NSTRUCT * sizeof(float));
    tb = malloc(m->ntasks * sizeof(float));
    dt = malloc(LLR_CLS_NSTRUCT * m->ntasks * sizeof(float));
    cb = malloc(LLR_CLS_NCALIB * m->ntasks * sizeof(float));

    p->task_hashed = th;
    p->diff_hashed = dh;
    p->task_dense = td;
    p->diff_dense = dd;
    p->task_bias = tb;
    p->diff_tdense = dt;
    p->calib = cb;

    if (th == NULL || dh == NULL || td == NULL || dd == NULL || tb == NULL
        || dt == NULL || cb == NULL)
    {
        llr_cls_params_free(p);
        return -1;
    }

    p->hash_bits = m->hash_bits;
    p->ntasks = m->ntasks;
    p->ctx_weight = m->ctx_weight;
    p->diff_bias = m->diff_bias;

    for (t = 0; t < m->ntasks; t++) {
        memcpy(p->task_names[t], m->names[t], LLR_CLS_TASK_NAME_LEN);
        tb[t] = m->task_bias[t];

        for (i = 0; i < LLR_CLS_NCALIB; i++) {
            cb[t * LLR_CLS_NCALIB + i] = m->calib[t][i];
        }
    }

    for (b = 0; b < nb; b++) {
        for (t = 0; t < m->ntasks; t++) {
            th[b * m->ntasks + t] = m->tw[b * m->trows + t] * m->task_scale;
        }
        dh[b] = m->dw[b] * m->diff_scale;
    }

    for (i = 0; i < LLR_CLS_NSTRUCT; i++) {
        for (t = 0; t < m->ntasks; t++) {
            td[i * m->ntasks + t] = m->task_dense[i][t];
            dt[t * LLR_CLS_NSTRUCT + i] = m->diff_tdense[t][i];
        }
        dd[i] = m->diff_dense[i];
    }

    return 0;
}


void
llr_cls_params_free(llr_cls_params_t *p)
{
    free((void *) p->task_hashed);
    free((void *) p->diff_hashed);
    free((void *) p->task_dense);
    free((void *) p->diff_dense);
    free((void *) p->task_bias);
    free((void *) p->diff_tdense);
    free((void *) p->calib);
    memset(p, 0, sizeof(llr_cls_params_t));
}
