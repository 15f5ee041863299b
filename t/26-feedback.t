#!/usr/bin/perl

# Feedback (llm_route_feedback): every routed answer carries
# X-LLM-Route-Id (and $llm_route_id); POST {"id", "score"} attributes the
# score to the answer's model, task and model x task from the ring of
# recent decisions in the zone; a second score replaces the first; an
# unknown, evicted or expired id is a 404 JSON error; a bad body a 400;
# the counts are exact with two workers scoring at once; the ring is
# kept across a restart with a state file; nginx -t checks the
# directives.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use POSIX ();

my $t = LLRTest->new;
my $m = $t->mock;

my $http = <<'EOF2';
    llm_route_feedback_ring 64 ttl=6s;
    log_format fb '$pid';
EOF2
my $server = <<'EOF2';
        location = /v1/feedback {
            llm_route_feedback;
            access_log %%DIR%%/feedback.log fb;
        }
        location = /llm/status { llm_route_status; }
EOF2

$t->config($t->routed_http(http => $http, server => $server,
                           location => 'add_header X-Test-Id $llm_route_id '
                                       . 'always; add_header X-Test-Rid '
                                       . '$request_id always;'));
$t->start;

my $msgs = [{ role => 'user', content => 'feedback please' }];

sub answer {
    my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs });
    return $r->{headers}{'x-llm-route-id'};
}

sub feedback {
    my ($body) = @_;
    my $r = $t->request('POST', '/v1/feedback',
                        body => ref $body ? LLRTest::json_encode($body)
                                          : $body,
                        headers => { 'Content-Type' => 'application/json' });
    return $r;
}

sub status { return $t->status_json(@_) }

# ---- the id ----------------------------------------------------------------

my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs });
my $id = $r->{headers}{'x-llm-route-id'};
like($id // '', qr/^[0-9a-f]{32}$/, 'X-LLM-Route-Id: 32 hex digits');
is($r->{headers}{'x-test-id'}, $id, '$llm_route_id is the same');
is($r->{headers}{'x-test-rid'}, $id, '... and $request_id');
my $id2 = answer();
isnt($id2, $id, 'another answer, another id');

my $s = $t->stream_request(body => { model => 'gpt-4o-mini',
                                     messages => $msgs,
                                     stream => JSON::PP::true });
like($s->{headers}{'x-llm-route-id'} // '', qr/^[0-9a-f]{32}$/,
     'a stream has one too');

$r = $t->chat({ model => 'nope', messages => $msgs });
is($r->{status}, 404, 'an unknown model: refused');
ok(!defined $r->{headers}{'x-llm-route-id'}, '... with no id');

status(3);

# ---- scores -----------------------------------------------------------------

$r = feedback({ id => $id, score => 0.5, comment => 'good enough' });
is($r->{status}, 200, 'a score: 200');
is_deeply($r->{json}, { id => $id, score => 0.5, replaced => JSON::PP::false,
                        model => 'gpt-4o-mini', task => 'unclassified' },
          '... attributed to the model and task');

my $j = status();
my $mm = $j->{models}{'gpt-4o-mini'};
is_deeply($mm->{feedback}, { count => 1, mean => 0.5 }, 'model feedback');
is_deeply($j->{tasks}{unclassified}{feedback}, { count => 1, mean => 0.5 },
          'task feedback');
is_deeply($j->{totals}{feedback}, { count => 1, mean => 0.5 },
          'totals feedback');
is_deeply($j->{quality}[0]{feedback}, { count => 1, mean => 0.5 },
          'model x task feedback');
is_deeply($j->{models}{'gpt-4o'}{feedback}, { count => 0, mean => undef },
          'another model: none');

$r = feedback({ id => $id, score => -1 });
is($r->{json}{replaced}, JSON::PP::true, 'a second score replaces the first');
$r = feedback({ id => $id2, score => 0 });
is($r->{status}, 200, 'a zero score');
$j = status();
is_deeply($j->{models}{'gpt-4o-mini'}{feedback}, { count => 2, mean => -0.5 },
          'two answers scored: -1 and 0');

my $p = $t->get('/llm/status?format=prometheus')->{content};
my $pair = '\{model="gpt-4o-mini",task="unclassified"\}';
like($p, qr/^llm_route_feedback_total$pair 2$/m, 'llm_route_feedback_total');
like($p, qr/^llm_route_feedback_score_sum$pair -1\.000$/m,
     'llm_route_feedback_score_sum');
like($p, qr/^llm_route_feedback_score_count$pair 2$/m,
     'llm_route_feedback_score_count');

# ---- the provider's id ------------------------------------------------------

$r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs });
my $rid = $r->{json}{id};
like($rid // '', qr/^chatcmpl-mock\d+$/, 'the provider\'s id');
my $ours = $r->{headers}{'x-llm-route-id'};
status(4);
$r = feedback({ id => $rid, score => 1 });
is($r->{status}, 200, 'a score for the provider\'s id: 200');
is($r->{json}{replaced}, JSON::PP::false, '... a first score');
$r = feedback({ id => $ours, score => -0.5 });
is($r->{json}{replaced}, JSON::PP::true,
   'our id names the same decision: it replaces that score');

$s = $t->stream_request(body => { model => 'gpt-4o-mini',
                                  messages => $msgs,
                                  stream => JSON::PP::true });
my ($srid) = $s->{body} =~ /"id":"(chatcmpl-mock\d+)"/;
status(5);
$r = feedback({ id => $srid // 'none', score => 0.25 });
is($r->{status}, 200, 'a stream\'s provider id: 200');

$j = status();
is_deeply($j->{models}{'gpt-4o-mini'}{feedback}, { count => 4,
          mean => -0.313 }, 'four answers scored: -1, 0, -0.5, 0.25');

# ---- what is refused --------------------------------------------------------

$r = feedback({ id => 'f' x 32, score => 1 });
is($r->{status}, 404, 'an unknown id: 404');
is($r->{json}{error}{code}, 'feedback_id_not_found',
   '... feedback_id_not_found');
is($r->{json}{error}{param}, 'id', '... param id');

for my $c ([ '{"id":"x"', 'the body is not JSON' ],
           [ '{"id":"x"}', '"score" is required' ],
           [ '{"id":"x","score":2}', '"score" must be a number from -1 to 1' ],
           [ '[]', 'the body is not a JSON object' ])
{
    $r = feedback($c->[0]);
    is($r->{status}, 400, "400: $c->[0]");
    is($r->{json}{error}{message}, $c->[1], "... $c->[1]");
    is($r->{json}{error}{code}, 'invalid_feedback', '... invalid_feedback');
}

$r = $t->get('/v1/feedback');
is($r->{status}, 405, 'GET: 405');

# ---- the ring: the oldest decisions go, and old ones expire -----------------

my @ids = map { answer() } 1 .. 64;
status(5 + 64);
is(feedback({ id => $id2, score => 1 })->{status}, 404,
   'evicted by 64 newer decisions: 404');
is(feedback({ id => $ids[0], score => 1 })->{status}, 200,
   'the oldest kept one: 200');

sleep 7;
$r = feedback({ id => $ids[-1], score => 1 });
is($r->{status}, 404, 'older than ttl: 404');
is($r->{json}{error}{code}, 'feedback_id_expired', '... feedback_id_expired');
my $expired = $ids[-1];

# ---- two workers at once ----------------------------------------------------

@ids = map { answer() } 1 .. 40;
my $before = status(5 + 64 + 40)->{models}{'gpt-4o-mini'}{feedback};
my $sum_before = score_sum();

# four clients score the 40 answers: each id twice (1, then -1 or 0.5),
# so 40 new scores and 40 replacements, spread over both workers
my @pids;
for my $k (0 .. 3) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        for my $i (grep { $_ % 4 == $k } 0 .. 39) {
            feedback({ id => $ids[$i], score => 1 });
            feedback({ id => $ids[$i], score => $i % 2 ? -1 : 0.5 });
        }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;

my %pids;
if (open(my $fh, '<', $t->dir . '/feedback.log')) {
    while (<$fh>) { chomp; $pids{$_}++ }
    close $fh;
}
ok(keys(%pids) >= 2, 'the scores were taken by ' . keys(%pids) . ' workers');

my $after = status()->{models}{'gpt-4o-mini'}{feedback};
is($after->{count}, $before->{count} + 40, 'two workers: 40 more scores');
my $sum = score_sum() - $sum_before;
ok(abs($sum - (20 * -1 + 20 * 0.5)) < 1e-9,
   'two workers: the sum is exact (' . $sum . ')');

# the exact sum of the scores (thousandths), from Prometheus
sub score_sum {
    my $p = $t->get('/llm/status?format=prometheus')->{content};
    return $p =~ /^llm_route_feedback_score_sum\{model="gpt-4o-mini",
                  task="unclassified"\}[ ](-?[\d.]+)$/mx ? $1 : 'none';
}

# ---- many ids ---------------------------------------------------------------

# the module draws the random bytes of 64 ids at once (feedback.c): ids
# across several draws are all different and each is the request's
# $request_id

my (%seen, $bad);
for (1 .. 150) {
    my $ans = $t->chat({ model => 'gpt-4o-mini', messages => $msgs });
    my $x = $ans->{headers}{'x-llm-route-id'} // '';
    $bad++ unless $x =~ /^[0-9a-f]{32}$/
                  && ($ans->{headers}{'x-test-rid'} // '') eq $x;
    $seen{$x}++;
}
is($bad // 0, 0, '150 answers: 32 hex digits, their $request_id');
is(scalar(keys %seen), 150, '... 150 different ids');

# ---- a restart, with a state file -------------------------------------------
#
# The ring of decisions is in the state file: a score posted after a
# restart for an answer given before it is attributed (and replaces a
# score given before it); an id expired before the restart still 404s.

my $state = $t->dir . '/llr.state';
(my $with_state = $t->routed_http(http => $http, server => $server))
    =~ s{llm_route_zone llm:1m;}
        {llm_route_zone llm:1m state=$state state_interval=1s;};
$t->reload(config => $with_state);

is(feedback({ id => $expired, score => 1 })->{status}, 404,
   'before the restart: an expired id, 404');
my ($scored, $unscored) = (answer(), answer());
is(feedback({ id => $scored, score => 0.5 })->{status}, 200,
   'before the restart: a score');
$before = status()->{models}{'gpt-4o-mini'}{feedback};
sleep 1.5;
$t->stop;
ok(-s $state, 'the state file is written');
$t->start;

$r = feedback({ id => $unscored, score => 1 });
is($r->{status}, 200, 'restarted: a score for an answer given before: 200')
    or diag(LLRTest::json_encode($r->{json}));
is_deeply($r->{json}, { id => $unscored, score => 1,
                        replaced => JSON::PP::false, model => 'gpt-4o-mini',
                        task => 'unclassified' },
          '... attributed to its model and task');
$r = feedback({ id => $scored, score => -1 });
is($r->{json}{replaced}, JSON::PP::true,
   'restarted: a second score replaces the one given before');
is_deeply(status()->{models}{'gpt-4o-mini'}{feedback},
          { count => $before->{count} + 1,
            mean => sprintf('%.3f', ($before->{mean} * $before->{count}
                                     - 0.5 - 1 + 1)
                                    / ($before->{count} + 1)) + 0 },
          'restarted: the model\'s feedback counts both');
$r = feedback({ id => $expired, score => 1 });
is($r->{status}, 404, 'restarted: the expired id still 404');

# ---- nginx -t ---------------------------------------------------------------

$server = "        location = /v1/feedback { llm_route_feedback; }\n";

my ($rc, $out) = $t->nginx_t_http(<<'EOF2');
    server { listen 127.0.0.1:1; location / { llm_route_feedback; } }
EOF2
isnt($rc, 0, 'nginx -t: llm_route_feedback without a zone fails');
like($out, qr/"llm_route_feedback" in .* needs "llm_route_zone"/,
     '... says so');

($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_feedback_ring 0;', server => $server));
isnt($rc, 0, 'nginx -t: a ring of 0 fails');
like($out, qr/invalid number of decisions "0"/, '... says so');

($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_feedback_ring 10 ttl=x;', server => $server));
isnt($rc, 0, 'nginx -t: a bad ttl fails');

($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_feedback_ring 1000000;', server => $server));
isnt($rc, 0, 'nginx -t: a ring too large for the zone fails');
like($out, qr/has no room for the feedback ring of 1000000 decisions/,
     '... with the size it needs');

$t->stop;
$t->check_log;

done_testing();
