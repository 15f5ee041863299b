#!/usr/bin/perl
#
# Regenerate the seed corpora in fuzz/seeds/<target>/ (deterministic).
#
#   perl fuzz/make-seeds.pl [TRAIN_TOOL]
#
# TRAIN_TOOL (default build/llm-route-train) trains the small model used
# for the model seeds; without it the model seeds are left as they are.
# LLR_DATA (default ../shared/data) holds the prompts of the request
# seeds; LLR_SEEDS_DIR (default fuzz/seeds) is where the seeds go (make
# check-generated writes them elsewhere and compares).
# Every seed starts with the target's control byte(s) (see each
# fuzz/fuzz_<target>.c), then the payload.

use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use FindBin;

my $top = "$FindBin::Bin/..";
my $dir = $ENV{LLR_SEEDS_DIR} || "$FindBin::Bin/seeds";
my $train = shift // "$top/build/llm-route-train";
my $data = $ENV{LLR_DATA} || "$top/../shared/data";

sub put {
    my ($target, $name, $bytes) = @_;
    make_path("$dir/$target");
    open(my $fh, '>:raw', "$dir/$target/$name") or die "$target/$name: $!";
    print $fh $bytes;
    close $fh;
}

sub slurp {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or die "$path: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub jstr {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord $1)/ge;
    return "\"$s\"";
}

# a few real prompts from the evaluation data (MT-Bench, GSM8K)
my @prompts;
if (open(my $fh, '<', "$data/routellm/mt_bench_questions.jsonl")) {
    while (<$fh>) {
        push @prompts, $1 if /"turns": \["((?:[^"\\]|\\.)*)"/;
        last if @prompts >= 6;
    }
    close $fh;
}
if (open(my $fh, '<', "$data/grade-school-math/train.jsonl")) {
    while (<$fh>) {
        push @prompts, $1 if /"question": "((?:[^"\\]|\\.)*)"/;
        last if @prompts >= 9;
    }
    close $fh;
}
@prompts = map { my $p = $_; $p =~ s/\\(.)/$1/g; $p } @prompts;
push @prompts, 'Write a Python function to merge two sorted lists.'
    while @prompts < 3;

# ---- req: first byte = endpoint (low 3 bits) | (piece size - 1) << 3 ----

remove_tree("$dir/$_") for qw(req sse usage values model pattern mock
                                 xlate xsse jsonv signal fbreq);

my $i = 0;
my @req;
for my $p (@prompts) {
    push @req, [0x00 | (($i * 5) % 32) << 3, '{"model":"auto","messages":'
        . '[{"role":"system","content":"You are helpful."},'
        . '{"role":"user","content":' . jstr($p) . '}]}'];
    $i++;
}
push @req,
  [0x08, '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user",'
       . '"content":"hi"}],"stream_options":{"include_usage":false}}'],
  [0x10, '{"messages":[{"role":"user","content":[{"type":"text","text":'
       . '"describe"},{"type":"image_url","image_url":{"url":"data:x"}}]}],'
       . '"model":"auto","max_tokens":100}'],
  [0x18, '{"model":"a","model":"b","messages":[]}'],
  [0x20, '{"model":"auto","messages":[{"role":"user","content":"caf\u00e9 '
       . '\ud83d\ude00 \"q\" \\\\ \/"}],"tools":[{"type":"function",'
       . '"function":{"name":"f","parameters":{"type":"object"}}}],'
       . '"response_format":{"type":"json_object"}}'],
  [0x28, '{"model":"auto","messages":[{"role":"developer","content":"x"},'
       . '{"role":"user","content":"a"},{"role":"assistant","content":null,'
       . '"tool_calls":[{"id":"1","type":"function","function":{"name":"f",'
       . '"arguments":"{}"}}]},{"role":"tool","tool_call_id":"1",'
       . '"content":"r"},{"role":"user","content":"b"}],'
       . '"max_completion_tokens":5,"temperature":0.2,"n":1,'
       . '"stop":["\n"],"logit_bias":{"50256":-100}}'],
  [0x01, '{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test",'
       . '"max_tokens":7}'],
  [0x09, '{"model":"x","prompt":["a","b"],"stream":false}'],
  [0x02, '{"model":"text-embedding-3-small","input":"The food was good"}'],
  [0x0a, '{"model":"e","input":["a","b"],"encoding_format":"float"}'],
  [0x03, '{"model":"auto","input":"Tell me a story","max_output_tokens":50}'],
  [0x0b, '{"model":"auto","input":[{"role":"user","content":[{"type":'
       . '"input_text","text":"hi"}]}],"instructions":"be brief"}'],
  [0x04, '{"model":"anything","whatever":[1,2.5e10,-0,true,false,null]}'],
  [0x00, '{"model":"auto","messages":[{"role":"user","content":"x"}],'
       . '"stream_options":null,"stream":null}'],
  [0x00, '{"model":"auto","messages":"not an array"}'],
  [0x00, '[1,2,3]'],
  [0x00, '{"model":"auto","messages":[{"role":"user","content":"x"}]} junk'],
  [0x00, '{"model":"auto","messages":[' . ('[' x 70) . (']' x 70) . ']}'],
  [0x00, "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":"
       . "\"bad \xc3\x28 utf8\"}]}"],
  [0xf8, '{"model":"auto","messages":[{"role":"user","content":'
       . jstr('long ' x 400) . '}]}'],
  # Anthropic Messages (5) and count_tokens (6)
  [0x05, '{"model":"auto","max_tokens":1024,"system":[{"type":"text",'
       . '"text":"You are Claude Code.","cache_control":{"type":'
       . '"ephemeral"}}],"messages":[{"role":"user","content":"fix it"},'
       . '{"role":"assistant","content":[{"type":"text","text":"ok"},'
       . '{"type":"tool_use","id":"t1","name":"Bash","input":{"command":'
       . '"make","opts":[1,{"a":"b"}]}}]},{"role":"user","content":[{'
       . '"type":"tool_result","tool_use_id":"t1","content":[{"type":'
       . '"text","text":"done"}]},{"type":"text","text":"next"}]}],'
       . '"tools":[{"name":"Bash","input_schema":{"type":"object"}}],'
       . '"stream":true}'],
  [0x0d, '{"messages":[{"content":[{"type":"tool_result","content":"r"},'
       . '{"type":"text","text":"a"}],"role":"user"}],"model":"m",'
       . '"system":"s"}'],
  [0x06, '{"model":"m","messages":[{"role":"user","content":"count me"}],'
       . '"system":[{"type":"text","text":"x"}]}'],
  [0x05, '{"model":"m","system":5,"messages":[]}'],
  # the keys sorted (content before role, model last), UTF-8 of 2, 3 and
  # 4 bytes, surrogate pairs and short escapes, in pieces of 3 and 1
  [0x10, "{\"max_tokens\":9,\"messages\":[{\"content\":\"caf\xc3\xa9 "
       . "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \\ud83d\\ude00\\n\\t\\\"\","
       . "\"role\":\"system\"},{\"content\":\"\xd0\xb4\xd0\xb0\\u00e9\","
       . "\"role\":\"user\"}],\"model\":\"auto\"}"],
  [0x00, "{\"messages\":[{\"content\":\"ok \xe2\x82\xac then \\ud800 x\","
       . "\"role\":\"user\"}],\"model\":\"auto\"}"];

$i = 0;
put('req', sprintf('%02d', $i++), chr($_->[0]) . $_->[1]) for @req;

# ---- sse: 3 bytes (strip flag, max_event / 8 - 2, step) -----------------

my $chunk = sub {
    my ($content, $extra) = @_;
    return 'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
        . '"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":'
        . jstr($content) . '},"finish_reason":null}]' . ($extra // '')
        . "}\n\n";
};
my $usage = 'data: {"id":"c1","object":"chat.completion.chunk","model":'
    . '"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,'
    . '"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":'
    . '{"cached_tokens":4},"completion_tokens_details":'
    . "{\"reasoning_tokens\":1}}}\n\n";
my $finish = 'data: {"id":"c1","object":"chat.completion.chunk","model":'
    . '"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":'
    . "\"stop\"}]}\n\n";
my $done = "data: [DONE]\n\n";
my $role = 'data: {"id":"c1","object":"chat.completion.chunk","model":"m",'
    . '"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
    . "\n\n";

my $full = $role . $chunk->('Hello') . $chunk->(' world') . $finish
    . $usage . $done;
my @sse = (
    [0, 255, 0, $full],
    [1, 255, 7, $full],
    [1, 2, 1, $full],
    [0, 40, 3, join("\r\n", split /\n/, $full, -1)],
    [1, 100, 5, join("\r", split /\n/, $full, -1)],
    [1, 255, 9, ": keep-alive\n\nevent: message\nid: 7\nretry: 100\n"
        . $chunk->('x') . $usage . $done],
    [1, 255, 2, "data: {\"choices\":[],\n" . "data: \"usage\":"
        . "{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n" . $done],
    [0, 255, 4, $chunk->('a', ',"usage":null') . $finish . $done],
    [1, 255, 6, 'data: {"error":{"message":"Rate limit","type":'
        . "\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n"],
    [1, 255, 1, "data: not json\n\ndata: {\"choices\":[{\"delta\":"
        . "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        . "\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n" . $done],
    [0, 255, 8, 'data: {"choices":[{"delta":{"content":"'
        . ('z' x 3000) . "\"}}]}\n\n" . $usage],
    [1, 255, 3, "data:" . $usage =~ s/^data: //r . "data:[DONE]\n"],
    [1, 255, 0, $chunk->('partial') . 'data: {"choices":[{"del'],
    # the prefix cache: content events that resume, a model in between
    [0, 255, 11, $role . join('', map { $chunk->($_) } qw(a bb ccc dddd e))
        . $finish . $usage . $done],
    [1, 255, 13, $chunk->('a') . $chunk->('b') . ($chunk->('c') =~
        s/gpt-4o-mini/other-model/r) . $chunk->('d') . $chunk->('e')
        . $done],
    # the event template: holes (an id, a number, the text) that change
    [0, 255, 17, $role . join('', map {
        'data: {"id":"c' . $_ . '","sequence_number":' . ($_ * 7 - 3)
        . ',"model":"m","choices":[{"index":0,"delta":{"content":'
        . jstr("t\n\"$_") . '},"finish_reason":null}],"usage":null}'
        . "\n\n" } 1 .. 6) . $finish . $usage . $done],
    [1, 255, 19, join('', map {
        "event: response.output_text.delta\n"
        . 'data: {"type":"response.output_text.delta","sequence_number":'
        . $_ . ',"item_id":"msg_' . $_ . '","output_index":0,'
        . '"content_index":0,"delta":' . jstr("w$_ ") . "}\n\n" } 1 .. 5)
        . "event: response.completed\ndata: {\"type\":\"response."
        . "completed\",\"response\":{\"status\":\"completed\",\"usage\":"
        . "{\"input_tokens\":3,\"output_tokens\":5}}}\n\n"],
    # the events that end a Responses stream (no [DONE]), and a cut one
    [0, 255, 23, "event: response.created\ndata: {\"type\":\"response."
        . "created\",\"sequence_number\":0,\"response\":{\"status\":"
        . "\"in_progress\",\"error\":null,\"usage\":null}}\n\n"
        . "data: {\"type\":\"response.incomplete\",\"response\":{"
        . "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},"
        . "\"usage\":null}}\n\n"],
    [1, 255, 29, "data: {\"type\":\"response.failed\",\"sequence_number\""
        . ":1,\"response\":{\"status\":\"failed\",\"error\":{\"code\":"
        . "\"x\"}}}\n\ndata: {\"type\":\"response.failed\",\"sequence_"
        . "number\":2,\"response\":{\"status\":\"failed\"}}\n\n"],
    [0, 255, 31, "event: error\ndata: {\"type\":\"error\",\"sequence_"
        . "number\":3,\"error\":{\"type\":\"server_error\",\"code\":"
        . "\"stream_interrupted\",\"message\":\"m\",\"param\":null}}\n\n"],
    [1, 255, 37, join('', map {
        'data: {"type":"response.output_text.delta","sequence_number":'
        . $_ . ',"delta":' . jstr("w$_") . "}\n\n" } 1 .. 4)
        . 'data: {"type":"response.completed","response":{"usage":{'],
);
# Anthropic streams (bit 1 of the first byte)
my $anthropic = slurp("$top/t/unit/xlate/anthropic-stream.txt");
push @sse,
    [2, 255, 0, $anthropic],
    [2, 255, 7, $anthropic],
    [3, 30, 5, $anthropic],
    [2, 255, 3, join("\r\n", split /\n/, $anthropic, -1)],
    [2, 255, 11, substr($anthropic, 0, 700)],
    [2, 255, 2, "event: error\ndata: {\"type\":\"error\",\"error\":"
        . "{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"
        . "\n\n"],
    [0, 255, 5, $anthropic];
# the mock's streams (t/unit/sse-tap/capture.sh): a tapped stream's own
# templates, whole and in pieces
for my $f (sort glob("$top/t/unit/sse-tap/*.sse")) {
    my $s = slurp($f);
    my $a = $f =~ /anthropic/ ? 2 : 0;
    push @sse, [$a, 255, 0, $s], [$a | 1, 255, 13, $s];
}
$i = 0;
put('sse', sprintf('%02d', $i++), pack('CCC', @$_[0 .. 2]) . $_->[3])
    for @sse;

# ---- xlate: first byte = translation (0-7), flags, allocation to fail --

my @xlate = (
    [0x00, slurp("$top/t/unit/xlate/chat-request.json")],
    [0x01, slurp("$top/t/unit/xlate/anthropic-request.json")],
    [0x02, slurp("$top/t/unit/xlate/anthropic-answer.json")],
    [0x03, slurp("$top/t/unit/xlate/chat-answer.json")],
    [0x08, slurp("$top/t/unit/xlate/anthropic-request.json")],
    [0x10, slurp("$top/t/unit/xlate/chat-request.json")],
    [0x60, slurp("$top/t/unit/xlate/chat-request.json")],
    [0xe1, slurp("$top/t/unit/xlate/anthropic-request.json")],
    [0x04, '{"type":"error","error":{"type":"overloaded_error",'
        . '"message":"Overloaded"},"request_id":"req_1"}'],
    [0x05, '{"error":{"message":"Rate limit reached","type":"requests",'
        . '"param":null,"code":"rate_limit_exceeded"}}'],
    [0x05, '<html>502 Bad Gateway</html>'],
    [0x00, '{"model":"a","messages":[{"role":"user","content":"x"}],'
        . '"n":2,"temperature":1.5}'],
    [0x00, '{"model":"a","messages":[{"role":"system","content":"s"}]}'],
    [0x00, '{"model":"a","messages":[{"role":"assistant","tool_calls":[{'
        . '"id":"c","type":"function","function":{"name":"f",'
        . '"arguments":"{\\"a\\":[1,2.50]}"}}]},{"role":"tool",'
        . '"tool_call_id":"c","content":[{"type":"text","text":"r"}]}],'
        . '"tools":[],"tool_choice":"required"}'],
    [0x01, '{"model":"a","max_tokens":9,"messages":[{"role":"user",'
        . '"content":[]},{"role":"assistant","content":[{"type":'
        . '"tool_use","id":"t","name":"n","input":[1]}]}],"top_k":5}'],
    [0x02, '{"content":[{"type":"text","text":"a"}],"usage":{'
        . '"input_tokens":18446744073709551615,'
        . '"cache_read_input_tokens":5,"output_tokens":1}}'],
    [0x03, '{"choices":[{"message":{"content":"a","tool_calls":[{"id":'
        . '"x","function":{"name":"f","arguments":"not json"}}]},'
        . '"finish_reason":"length"}],"usage":{"prompt_tokens":3,'
        . '"completion_tokens":1,"prompt_tokens_details":{'
        . '"cached_tokens":9}}}'],
    [0x06, '{"model":"a","input":"hello"}'],
);
$i = 0;
put('xlate', sprintf('%02d', $i++), chr($_->[0]) . $_->[1]) for @xlate;

# ---- xsse: first byte = direction, include_usage, max_event, pieces ----

my $chat_stream = slurp("$top/t/unit/xlate/chat-stream.txt");
my @xsse = (
    [0x02, $anthropic],
    [0x00, $anthropic],
    [0x3a, $anthropic],
    [0x02, join("\r\n", split /\n/, $anthropic, -1)],
    [0x02, substr($anthropic, 0, 900)],
    [0x06, $anthropic],
    [0x01, $chat_stream],
    [0x43, $chat_stream],
    [0x01, join("\r", split /\n/, $chat_stream, -1)],
    [0x01, substr($chat_stream, 0, 800)],
    [0x01, $full],
    [0x00, "event: error\ndata: {\"type\":\"error\",\"error\":{"
        . "\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"
        . "\n\n"],
    [0x01, 'data: {"error":{"message":"Rate limit","type":"requests"}}'
        . "\n\n"],
    [0x05, "data: " . ('x' x 400) . "\n\n"],
);
$i = 0;
put('xsse', sprintf('%02d', $i++), chr($_->[0]) . $_->[1]) for @xsse;

# ---- mock: first byte bit 0 = the Responses API's names ------------------

my $weather = '{"type":"object","properties":{"city":{"type":"string",'
    . '"description":"caf\\u00e9"},"unit":{"type":"string","enum":["c",'
    . '"f"]},"days":{"type":"integer","minimum":1,"maximum":7}},'
    . '"required":["city","unit","days"],"additionalProperties":false}';
my @mock = (
    [0, '{"model":"m","messages":[{"role":"user","content":"hi"}],"n":3}'],
    [0, '{"model":"m","input":["a","b"],"encoding_format":"base64"}'],
    [0, '{"model":"m","messages":[],"tools":[{"type":"function","function":'
        . '{"name":"get_weather","parameters":' . $weather . '}}],'
        . '"tool_choice":"required"}'],
    [0, '{"tools":[{"type":"function","function":{"name":"a"}},{"type":'
        . '"function","function":{"name":"b","parameters":{}}}],'
        . '"tool_choice":{"type":"function","function":{"name":"b"}}}'],
    [1, '{"model":"m","input":"hi","tools":[{"type":"function","name":'
        . '"get_weather","parameters":' . $weather . ',"strict":true}],'
        . '"tool_choice":"required"}'],
    [0, '{"response_format":{"type":"json_schema","json_schema":{"name":'
        . '"w","strict":true,"schema":{"type":"object","properties":{"items":'
        . '{"type":"array","items":{"$ref":"#/$defs/item"}},"note":{"anyOf":'
        . '[{"type":"string","format":"date-time"},{"type":"null"}]}},'
        . '"required":["items","note"],"$defs":{"item":{"type":"object",'
        . '"properties":{"name":{"type":"string","minLength":3},"price":'
        . '{"type":"number","exclusiveMinimum":0}},"required":["name",'
        . '"price"]}}}}}}'],
    [1, '{"text":{"format":{"type":"json_schema","name":"x","schema":'
        . '{"type":"object","properties":{"tree":{"$ref":"#"}},'
        . '"allOf":[{"properties":{"b":{"const":[1,{"x":null}]}}}]}}}}'],
    [0, '{"response_format":{"type":"json_object"},"n":128}'],
    [0, '{"type":"array","minItems":3,"prefixItems":[{"type":"integer",'
        . '"multipleOf":3,"minimum":4}],"items":{"type":"string",'
        . '"maxLength":2},"uniqueItems":true}'],
    [0, '{"n":0,"encoding_format":"hex","tool_choice":"required"}'],
    [0, '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'],
    [0, '{"a":"\ud83d\ude00\u0000","b":-0.0e-0,"c":[true,false,null]}'],
    [1, '{"n":2}  x'],
    # Anthropic Messages (llr_mock_msgs); bit 0: count_tokens
    [0, '{"model":"c","max_tokens":64,"stream":true,"system":[{"type":'
        . '"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],'
        . '"messages":[{"role":"user","content":[{"type":"text","text":'
        . '"hi there"},{"type":"image","source":{"type":"url","url":"u"}}]},'
        . '{"role":"assistant","content":[{"type":"tool_use","id":"t","name":'
        . '"get_weather","input":{"city":"x"}}]},{"role":"user","content":'
        . '[{"type":"tool_result","tool_use_id":"t","content":[{"type":'
        . '"text","text":"sunny"}],"cache_control":{"type":"ephemeral"}}]}],'
        . '"tools":[{"name":"get_weather","input_schema":' . $weather . '}]}'],
    [0, '{"model":"c","max_tokens":8,"messages":[{"role":"user","content":'
        . '"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"},'
        . '{"name":"f","input_schema":{"type":"object"}}],"tool_choice":'
        . '{"type":"tool","name":"f"}}'],
    [1, '{"model":"c","system":"s","messages":[{"role":"system","content":'
        . '"x"},{"role":"user","content":"a b"}]}'],
    [0, '{"model":"c","max_tokens":0.5,"messages":[{"role":"tool"}],'
        . '"tool_choice":{"type":"any"}}'],
);
$i = 0;
put('mock', sprintf('%02d', $i++), chr($_->[0]) . $_->[1]) for @mock;

# ---- usage: first byte = piece size selector ----------------------------

my @usage = (
    '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":'
    . '"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":'
    . '"assistant","content":"Hello! How can I help?","refusal":null},'
    . '"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":'
    . '9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":'
    . '{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":'
    . '{"reasoning_tokens":0,"audio_tokens":0}},"system_fingerprint":"fp"}',
    '{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c",'
    . '"type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},'
    . '"finish_reason":"tool_calls"},{"message":{"content":"b"},'
    . '"finish_reason":"length"}],"usage":{"prompt_tokens":5,'
    . '"completion_tokens":7}}',
    '{"error":{"message":"Incorrect API key provided","type":'
    . '"invalid_request_error","param":null,"code":"invalid_api_key"}}',
    '{"error":{"message":"x","type":"server_error","code":500}}',
    '{"error":"upstream timed out"}',
    '{"object":"list","data":[{"object":"embedding","index":0,"embedding":'
    . '[0.1,-0.2,3e-5]}],"model":"text-embedding-3-small","usage":'
    . '{"prompt_tokens":5,"total_tokens":5}}',
    '{"id":"resp_1","object":"response","output":[{"type":"message",'
    . '"content":[{"type":"output_text","text":"hi"}]}],"usage":'
    . '{"input_tokens":10,"output_tokens":20,"total_tokens":30,'
    . '"input_tokens_details":{"cached_tokens":2},'
    . '"output_tokens_details":{"reasoning_tokens":5}}}',
    '{"choices":[{"text":"\u00e9\ud83d\ude00\n","finish_reason":'
    . '"content_filter"}],"usage":{"prompt_tokens":18446744073709551615,'
    . '"completion_tokens":1e3,"total_tokens":-1}}',
    '{"usage":{"prompt_tokens":1},"usage":null,"usage":{"completion_tokens":'
    . '2},"model":"' . ('m' x 200) . '"}',
    '  {"choices":[]}  ',
    '{"choices":[{"finish_reason":"function_call"},{"finish_reason":"eos"}]}',
    '{"a":[[[[[[[[[[[[[[[[{"usage":{"prompt_tokens":3}}]]]]]]]]]]]]]]]]}',
    '<html><body>502 Bad Gateway</body></html>',
    '{"choices":[{"message":{"content":"unterminated',
);
$i = 0;
put('usage', sprintf('%02d', $i), chr(($i++ * 37) % 256) . $_) for @usage;

# Anthropic answers (bit 4 of the first byte)
my $answer = slurp("$top/t/unit/xlate/anthropic-answer.json");
put('usage', 'a0', "\x10" . $answer);
put('usage', 'a1', "\x13" . $answer);
put('usage', 'a2', "\x10" . '{"type":"error","error":{"type":'
    . '"overloaded_error","message":"Overloaded"}}');
put('usage', 'a3', "\x17" . '{"usage":{"input_tokens":5,"output_tokens":'
    . 'null,"cache_read_input_tokens":"x","cache_creation":'
    . '{"ephemeral_1h_input_tokens":2}},"message":{"usage":'
    . '{"input_tokens":true}},"stop_reason":"pause_turn"}');

# ---- values: the string itself (first byte also picks a scale) -----------

$i = 0;
put('values', sprintf('%02d', $i++), $_) for
    '0.15', '10.00', '2.5', '0', '0.000001', '1000000', '128000', '16m',
    '1g', '512k', '30s', '250ms', '1h', '1.5', '18446744073709551615',
    '18446744073709551616', '0.1234567890123', '-1', '1e3', '.5', '5.',
    '00012', ' 1', "1\x00", "\xff\xff\xff\xff\xff\xff\xff\xff";

# ---- pattern: caseless byte, regex, NUL, subject --------------------------

$i = 0;
put('pattern', sprintf('%02d', $i++), $_) for
    "\x00\\b(def|class|import)\\b\x00def f(x): return x",
    "\x01^gpt-4o(-mini)?\$\x00GPT-4O-MINI",
    "\x00(?i)translat(e|ion)\x00Translate this into French",
    "\x00[\\p{Han}]+\x00\xe4\xb8\xad\xe6\x96\x87",
    "\x00(a+)+\$\x00aaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "\x00(\x00broken",
    "\x01\\d{3,}\\s*[+*/-]\\s*\\d+\x00what is 123 * 45?",
    "\x00(?<n>x)\\k<n>\x00xx \xc3\x28 invalid utf8",
    "\x00.*\x00",
    "\x00[\x00";

# ---- jsonv: first byte = piece size - 1, then the text -------------------

$i = 0;
put('jsonv', sprintf('%02d', $i), chr($i++ * 5 % 16) . $_) for
    '{"city":"Paris","days":3}', '{"location": "Boston, MA", "unit": '
    . '"celsius"}', '[1, -0.5e-3, true, false, null, {"a": []}]',
    '"caf\u00e9 \ud83d\ude00 \"q\" \\\\ \/ \b\f\n\r\t"',
    "\"\xc3\xa9\xe2\x80\x99\xf0\x9f\x98\x80\"", ' 0 ', '-0', '1E+2',
    '{"a":1,}', '[01]', '{"a" 1}', "\"\xc0\x80\"", "\"\xed\xa0\x80\"",
    "\"\t\"", '{} "', "\x0b1", '{"a":{"b":{"c":[[[["deep"]]]]}}}',
    ('[' x 300) . (']' x 300), 'tru', '{"answer": "42", "confidence": 0.9}'
    . "\n", '```json\n{"a": 1}\n```', '';

# ---- signal: flags, then records (kind, choice, index, length, text) -----

sub rec {
    my ($kind, $choice, $index, $text) = @_;
    return pack('C4', $kind, $choice, $index, length $text) . $text;
}

$i = 0;
put('signal', sprintf('%02d', $i++), $_) for
    "\x00" . rec(0, 0, 0, 'Hello') . rec(0, 0, 0, ' world'),
    "\x02" . rec(0, 0, 0, "I'm sorry, but I can't help with that."),
    "\x14" . rec(0, 0, 0, "I\xe2\x80\x99m unable to assist with this."),
    "\x31" . rec(3, 0, 0, '') . rec(3, 0, 0, '{"city":')
        . rec(3, 0, 1, '{}') . rec(3, 0, 0, '"Paris"}'),
    "\x30" . rec(3, 0, 0, '{"city": Paris}'),
    "\x01" . rec(0, 0, 0, '{"a": [1, ') . rec(0, 0, 0, '2]}'),
    "\x0b" . rec(0, 0, 0, 'Sure! {"a": 1}'),
    "\x11" . rec(0, 0, 0, '{"a": [1, '),
    "\x20" . rec(1, 0, 0, 'I cannot do that.'),
    "\x00" . rec(2, 0, 0, 'thinking...'),
    "\x06" . rec(0, 1, 0, "line\n\"quoted\"\t\\") . rec(0, 5, 0, 'x'),
    "\x0e" . join('', map { rec(3, 0, $_, "{\"n\":$_}") } 0 .. 9),
    "\x04" . rec(0, 0, 0, '\\u00e9\\ud83d\\ude00\\ud800x\\"') . rec(0, 0, 0,
        '\\'),
    "\x00" . rec(0, 0, 0, ' ' x 255) . rec(0, 0, 0, "I can't help.");

# ---- model: mode byte + model file, or mode 2/3 + parameter bytes ---------

sub fnv64 {
    use integer;
    my ($h, $p) = (0xcbf29ce484222325, 0x100000001b3);
    for my $c (unpack 'C*', $_[0]) {
        $h ^= $c;
        $h *= $p;
    }
    return $h;
}

if (-x $train) {
    my $tmp = tempdir(CLEANUP => 1);
    open(my $t, '>', "$tmp/task.jsonl") or die;
    my @tasks = (
        ['write a python function to reverse a list', 'code'],
        ['fix this segfault in my C program', 'code'],
        ['what is 17 * 23 + 4?', 'math'],
        ['solve x^2 - 4 = 0 for x', 'math'],
        ['write a poem about the sea', 'creative'],
        ['tell me a story about a dragon', 'creative'],
        ['what is the capital of France', 'qa'],
        ['who wrote hamlet', 'qa'],
    );
    print $t "{\"prompt\": \"$_->[0]\", \"task\": \"$_->[1]\"}\n" for @tasks;
    close $t;
    open(my $d, '>', "$tmp/diff.jsonl") or die;
    print $d <<'EOF';
{"prompt": "what is 2+2", "weak_correct": true, "strong_correct": true}
{"prompt": "prove there are infinitely many primes", "weak_correct": false, "strong_correct": true}
{"prompt": "hello there", "weak_correct": true, "strong_correct": true}
{"prompt": "derive the navier stokes equations", "weak_correct": false, "strong_correct": true}
EOF
    close $d;
    system($train, '-o', "$tmp/small.model", '--task-data',
           "$tmp/task.jsonl", '--difficulty-data', "$tmp/diff.jsonl",
           '--bits', '8', '--epochs', '3') == 0 or die "training failed\n";
    open(my $m, '<:raw', "$tmp/small.model") or die;
    local $/;
    my $img = <$m>;
    close $m;
    my $n = length $img;

    put('model', 'm0-small', "\x00" . $img);
    put('model', 'm1-small', "\x01" . $img);
    put('model', 'm0-truncated-header', "\x00" . substr($img, 0, 40));
    put('model', 'm0-truncated-half', "\x00" . substr($img, 0, $n >> 1));
    put('model', 'm0-truncated-1', "\x00" . substr($img, 0, $n - 1));
    put('model', 'm0-long', "\x00" . $img . "\x00");
    my $bad = $img;
    substr($bad, 100, 1) = chr(ord(substr($bad, 100, 1)) ^ 0xff);
    put('model', 'm0-bad-checksum', "\x00" . $bad);
    put('model', 'm1-flipped-name', "\x01" . $bad);
    $bad = $img;
    substr($bad, 8, 4) = pack('V', 99);
    put('model', 'm1-version', "\x01" . $bad);
    # an older version (3: no calibration, other features) is refused
    $bad = $img;
    substr($bad, 8, 4) = pack('V', 3);
    put('model', 'm1-version3', "\x01" . $bad);
    # the calibration block: another size, a NaN in it
    $bad = $img;
    substr($bad, 24, 4) = pack('V', 8);
    put('model', 'm1-calib-count', "\x01" . $bad);
    {
        my $t = unpack('V', substr($img, 16, 4));
        my $calib = 64 + 24 * $t + 4 * $t + 320 * $t + 320 + 320 * $t;
        $bad = $img;
        substr($bad, $calib + 4, 4) = pack('f<', 9**9**9 - 9**9**9);
        put('model', 'm1-nan-calib', "\x01" . $bad);
    }
    $bad = $img;
    substr($bad, 12, 4) = pack('V', 30);
    put('model', 'm1-bits', "\x01" . $bad);
    $bad = $img;
    substr($bad, 16, 4) = pack('V', 17);
    put('model', 'm1-ntasks', "\x01" . $bad);
    $bad = $img;
    substr($bad, 28, 4) = pack('f<', 9**9**9 - 9**9**9);    # NaN ctx
    put('model', 'm1-nan-ctx-weight', "\x01" . $bad);
    $bad = $img;
    substr($bad, $n - 200, 2) = pack('v', 0x7fff);     # weight range
    put('model', 'm1-weight-range', "\x01" . $bad);
    put('model', 'm0-magic-only', "\x00LLRCLSM\x1a");
}
put('model', 'p2-zero', "\x02\x00\x00" . ("\x00" x 64));
put('model', 'p3-tasks', "\x03\x01\x07" . join('', map { chr } 0 .. 255));
put('model', 'p2-edits', "\x02\x02\x0f" . join('', map { chr(($_ * 73)
    % 256) } 0 .. 300));
# mode 2 with edits that give two tasks the same name (found by
# fuzzing: the loader now rejects duplicate task names)
put('model', 'p2-duplicate-name',
    pack('C*', 0x2a, 0x0d, 0x0d, 0x00, 0x00, 0x62, 0x60, 0x01, 0x2e, 0x9a,
         0xb0, 0xe8, 0x4d, 0x1a));
put('model', 'p3-nan', "\x03\x00\x02" . ("\xff" x 64));

# ---- fbreq: the body of a feedback request ---------------------------------

$i = 0;
put('fbreq', sprintf('%02d', $i++), $_) for
    '{"id":"3f2c9a0e5b7d4c1a8e6f0b2d4a6c8e0f","score":0.5}',
    '{"score":-1,"id":"chatcmpl-abc","comment":"bad \\"answer\\" {"}',
    '{"comment":{"x":[1,{"y":"}"}]},"id":"a\\/b\\u0041","score":-0.0005}',
    '{"id":"x","score":1e-3,"id":"y"}', '{"id":"","score":1}',
    '{"id":"a b","score":1}', '{"id":"\\u00e9","score":0}',
    '{"id":"a","score":1.0000000000000000000000000000000000000000000000000000'
    . '00000001}', '{"id":"a","score":"1"}', '[{"id":"a","score":1}]',
    '{"id":"a","score":1', '', ' ', '{"id":"' . ('x' x 257) . '","score":0}';
