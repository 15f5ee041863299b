#!/usr/bin/env python3
#
# Where the module's instructions go, per component, in the callgrind
# files bench/callgrind-nginx.sh --annotate keeps (CG_KEEP):
#
#   bench/cg-components.py N PLAIN.out ROUTED.out
#
# prints Ir per request (the file's totals divided by N) of each
# component of the module, and of nginx and libc outside it (ROUTED
# minus PLAIN, function by function, for what the module makes nginx
# do: more pool blocks, proxy_pass with variables, ...).
#
# Attribution: a function of the module (its source under
# ngx_llm_route_module/) belongs to the first component whose pattern
# matches "file:function" (a function of the module: one its sources
# define); its self cost is that component's, and so
# is the inclusive cost of each call it makes to a function outside the
# module (libc, nginx's pool, ngx_sprintf, core/llr.c's helpers), but
# for the calls that continue nginx's own processing (the next filter,
# the phases, the upstream): those are nginx's, below.  The helpers of
# core/llr.c, llr_cost.c, llr_arena.c and llr_jtok.c (UTF-8 copies,
# prices, the scanners' arena, the JSON token layer) count as outside:
# in their callers' components.

import os
import re
import sys
from collections import defaultdict

COMPONENTS = [
    # the request scanner: text logged until the model is known, then
    # replayed into the classifier, and its decoding: the hand-off
    ("classifier: text hand-off",
     r"llr_req\.c:(llr_rec_|llr_sink_|llr_decode)"
     r"|llr_classify\.c:llr_cls_(text|message_begin|message_end|opt_"
     r"|fold|ctx_keep|ctx_reserve|ctx_user)"),
    ("request scan + rewrite (core)", r"core/llr_req\.c:"),
    ("classifier: tokenize + hash",
     r"llr_classify\.c:llr_cls_(tokenize|scan|weigh|msg_tokenize"
     r"|ctx_tokenize)"),
    ("classifier: features, softmax, calibration",
     r"llr_classify\.c:|core/llr_calib\.c:"),
    ("patterns (pcre2)", r"core/llr_pattern\.c:"),
    ("request glue: handler, body, rewrite, rules",
     r"ngx_http_llm_route_(request|body|rewrite|rules|headers|models"
     r"|ctx|conf|reply)\.c:"),
    ("selection + reason/cost strings",
     r"ngx_http_llm_route_(select|policy|catalog|failover)\.c:"
     r"|core/llr_(select|cost|balance)\.c:"),
    ("admission (limits)", r"ngx_http_llm_route_limits[a-z_]*\.c:"
     r"|core/llr_limits\.c:"),
    ("usage scanner (a JSON answer; a stream's events' JSON)",
     r"core/llr_usage\.c:"),
    ("SSE parser (events, templates)", r"core/llr_sse\.c:"),
    ("header filter", r"ngx_http_llm_route_filter\.c:"
     r"ngx_http_llm_route_header_filter"),
    ("body filter glue", r"ngx_http_llm_route_filter\.c:"),
    ("log handler (accounting, counters)",
     r"ngx_http_llm_route_(account|shm|health|zone|state)\.c:"
     r"|core/llr_(account|stats)\.c:"),
    ("variables", r"ngx_http_llm_route_variables\.c:"),
    ("other module code", r"."),
]

# calls out of the module that are nginx's own work continuing
CONTINUE = re.compile(
    r"ngx_http_next_|_filter$|ngx_http_core_run_phases|ngx_http_finalize"
    r"|ngx_http_read_client_request_body|ngx_http_upstream"
    r"|ngx_http_output_filter|ngx_http_send_header|ngx_http_internal_redirect"
    r"|ngx_http_named_location|ngx_http_handler|ngx_http_send_special"
    r"|^0x")


def sources():
    """function name -> its source file, from the module's definitions"""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "ngx_llm_route_module")
    where = {}
    for d in (top, os.path.join(top, "core")):
        for name in sorted(os.listdir(d)):
            if not name.endswith(".c"):
                continue
            rel = os.path.relpath(os.path.join(d, name), top)
            with open(os.path.join(d, name), errors="replace") as f:
                for line in f:
                    m = re.match(r"((?:llr|ngx_http_llm_route)\w*)\(", line)
                    if m:
                        where.setdefault(m.group(1), rel)
    return where


def parse(path):
    self_cost = defaultdict(int)
    calls = defaultdict(int)          # (caller, callee) -> inclusive
    objs = {}                         # function -> its object
    fn = ob = None
    cfn = cob = None
    pending_call = False
    with open(path, errors="replace") as f:
        for line in f:
            if pending_call:
                parts = line.split()
                if len(parts) >= 2:
                    calls[(fn, cfn)] += int(parts[1])
                pending_call = False
                continue
            if line.startswith("ob="):
                ob = cob = line[3:].strip()
                continue
            if line.startswith("cob="):
                cob = line[4:].strip()
                continue
            if line.startswith("fn="):
                fn = re.sub(r"'\d+$", "", line[3:].strip())
                objs.setdefault(fn, ob)
                cob = ob
                continue
            if line.startswith("cfn="):
                cfn = re.sub(r"'\d+$", "", line[4:].strip())
                objs.setdefault(cfn, cob)
                continue
            if line.startswith("calls="):
                pending_call = True
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2 and fn is not None:
                    self_cost[fn] += int(parts[1])
    # the module's functions: those its sources define
    files = {fn: SRC[fn] for fn in objs if fn in SRC}
    return self_cost, calls, files


# helpers any part calls: counted in their callers' components
HELPERS = re.compile(r"^core/llr(_cost|_arena|_jtok)?\.c$")


def module_fn(files, fn):
    return fn in files and not HELPERS.search(files[fn])


def component(files, fn):
    key = files.get(fn, "?") + ":" + fn
    for name, pat in COMPONENTS:
        if re.search(pat, key):
            return name
    return None


def attribute(path):
    self_cost, calls, files = parse(path)
    comp = defaultdict(int)
    for fn, c in self_cost.items():
        if module_fn(files, fn):
            comp[component(files, fn)] += c
    for (caller, callee), c in calls.items():
        if caller == callee:
            continue
        if module_fn(files, caller) and not module_fn(files, callee) \
                and not CONTINUE.search(callee):
            comp[component(files, caller)] += c
    # outside functions the module's calls reach (their cost is in a
    # component already): not listed among nginx's extra
    reached = {callee for (caller, callee) in calls
               if module_fn(files, caller) and not module_fn(files, callee)}
    return comp, self_cost, files, reached


SRC = sources()


def main():
    n = int(sys.argv[1])
    plain, routed = sys.argv[2], sys.argv[3]
    comp, rself, rfiles, reached = attribute(routed)
    _, pself, _, _ = attribute(plain)
    total_r = sum(rself.values())
    total_p = sum(pself.values())
    module = 0
    print("| component | Ir/request |")
    print("|---|---:|")
    for name, _ in COMPONENTS:
        if comp.get(name):
            print("| %s | %d |" % (name, round(comp[name] / n)))
            module += comp[name]
    if os.environ.get("CG_OTHER"):
        for fn, c in sorted(rself.items(), key=lambda x: -x[1]):
            if module_fn(rfiles, fn) and component(rfiles, fn) \
                    == os.environ["CG_OTHER"] and c >= n * 20:
                print("|   %s %s | %d |" % (rfiles[fn], fn, round(c / n)))
    print("| **module's functions, in all** | **%d** |" % round(module / n))
    rest = total_r - total_p - module
    print("| nginx and libc outside them (routed − plain) | %d |"
          % round(rest / n))
    print("| **whole worker: routed − plain** | **%d** |"
          % round((total_r - total_p) / n))
    # the biggest differences outside the module, self cost
    diff = {}
    for fn in set(rself) | set(pself):
        if fn in rfiles or fn in reached:
            continue
        d = rself.get(fn, 0) - pself.get(fn, 0)
        if abs(d) >= n * 30:
            diff[fn] = d
    print()
    print("outside the module, functions the module does not call, self Ir"
          " per request, routed − plain:")
    for fn, d in sorted(diff.items(), key=lambda x: -abs(x[1]))[:25]:
        print("  %+7d  %s" % (round(d / n), fn))


if __name__ == "__main__":
    main()
