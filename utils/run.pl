#!/usr/bin/env perl
# run.pl: run a command, or an array of numbered jobs, on this machine, in
# parallel, with the interface of Kaldi's run.pl / queue.pl.
#
# Usage: utils/run.pl [options] [VAR=a:b] log/name.VAR.log command args...
#   VAR=a:b   run jobs a..b (VAR=a runs job a alone); VAR is any name
#             (JOB, SPLIT, ...) and is replaced by the job number in the log
#             path and in every command argument. Without it: one job.
# The command is run with `bash -c`, with stdout and stderr written to the log
# file (its directory is created). A command given as one argument is run as
# is; several arguments are joined with spaces as Kaldi's run.pl joins them:
# an argument with whitespace (or an empty one) is single-quoted, the others
# are kept raw, so that Kaldi-style `\|`, `">"` and $VAR keep their shell
# meaning while `sh -c 'echo a b; exit 1'` stays one argument of sh.
# Options:
#   --max-jobs-run K   at most K jobs at once (default: CPU cores / threads)
#   --num-threads T    threads per job; lowers the default concurrency
#   --mem M, --gpu G   accepted for queue.pl compatibility; run.pl sets no
#                      limit and allocates no GPU
#   --config, --sync, --time, --queue, --partition   accepted and ignored
# Exits 0 if every job succeeds, else 1 after naming the failed jobs' logs.

use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);

$| = 1;    # flush before fork, so that nothing buffered is written twice

my $usage = <<'EOF';
Usage: utils/run.pl [options] [JOB=a:b] log/name.JOB.log command args...
 e.g.: utils/run.pl --max-jobs-run 4 JOB=1:10 exp/log/align.JOB.log ./align.sh data/split10/JOB
Options: --max-jobs-run K, --num-threads T, --mem M, --gpu G
         (--config, --sync, --time, --queue, --partition are ignored)
EOF

sub usage_error {
  my ($msg) = @_;
  print STDERR "run.pl: $msg\n$usage";
  exit 1;
}

# Options given as "--name value" or "--name=value".
my %ignored = map { $_ => 1 } qw(config sync time queue partition);
my ($max_jobs, $num_threads, $mem, $gpu) = (undef, 1, undef, 0);
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $arg = shift @ARGV;
  last if $arg eq '--';
  my ($opt, $value) = $arg =~ /^(--[^=]*)=(.*)$/s ? ($1, $2) : ($arg, undef);
  (my $name = substr($opt, 2)) =~ tr/_/-/;
  unless ($name =~ /^(max-jobs-run|num-threads|mem|gpu)$/ || $ignored{$name}) {
    usage_error("unknown option $opt");
  }
  if (!defined $value) {
    usage_error("option $opt needs a value") unless @ARGV;
    $value = shift @ARGV;
  }
  if ($name eq 'max-jobs-run' || $name eq 'num-threads') {
    usage_error("$opt needs a positive integer, not '$value'") unless $value =~ /^0*[1-9]\d*$/;
    if ($name eq 'max-jobs-run') { $max_jobs = $value } else { $num_threads = $value }
  } elsif ($name eq 'gpu') {
    usage_error("$opt needs a non-negative integer, not '$value'") unless $value =~ /^\d+$/;
    $gpu = $value;
  } elsif ($name eq 'mem') {
    $mem = $value;
  }
}

# Optional job array spec: VAR=a:b or VAR=a. A first argument that looks like
# one (VAR=..., no "/" or "." after the "=") must be a valid one.
my ($var, $first, $last) = (undef, 1, 1);
if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=([^\/.]*)$/) {
  my $spec = shift @ARGV;
  $var = $1;
  my $range = $2;
  if ($range =~ /^(\d+):(\d+)$/) {
    ($first, $last) = ($1 + 0, $2 + 0);
  } elsif ($range =~ /^(\d+)$/) {
    ($first, $last) = ($1 + 0, $1 + 0);
  } else {
    usage_error("bad job array spec '$spec' (expected $var=a:b)");
  }
  usage_error("bad job array spec '$spec': $first > $last") if $first > $last;
}

usage_error("missing log file") unless @ARGV;
my $log_spec = shift @ARGV;
usage_error("missing command") unless @ARGV;
my @cmd_spec = @ARGV;
my $num_jobs = $last - $first + 1;
if ($num_jobs > 1 && index($log_spec, $var) < 0) {
  usage_error("$num_jobs jobs would share the log file $log_spec; put $var in its name");
}

if (!defined $max_jobs) {
  $max_jobs = int(num_cpus() / $num_threads);
  $max_jobs = 1 if $max_jobs < 1;
}

# Replace every occurrence of the array variable by the job number.
sub subst {
  my ($text, $id) = @_;
  $text =~ s/\Q$var\E/$id/g if defined $var;
  return $text;
}

sub num_cpus {
  my $n = `nproc 2>/dev/null`;
  return $1 if defined $n && $n =~ /^\s*(\d+)\s*$/ && $1 > 0;
  if (open(my $fh, '<', '/proc/cpuinfo')) {
    my $count = grep { /^processor\s*:/ } <$fh>;
    return $count if $count > 0;
  }
  return 1;
}

# The shell command line of the arguments (see the header).
sub shell_join {
  my @args = @_;
  return $args[0] if @args == 1;
  return join(' ', map { /^\S+$/ ? $_ : "'" . s/'/'\\''/gr . "'" } @args);
}

# Run job $id in this (forked) process; returns the command's exit status.
sub run_job {
  my ($id) = @_;
  my $log = subst($log_spec, $id);
  my $cmd = shell_join(map { subst($_, $id) } @cmd_spec);

  make_path(dirname($log), { error => \my $mkdir_errors });
  open(my $fh, '>', $log) or do { print STDERR "run.pl: cannot write log file $log: $!\n"; return 1 };
  (my $shown = $cmd) =~ s/\n/\n# /g;    # keep a multi-line command commented
  print $fh "# $shown\n# Started at " . localtime() . "\n";
  print $fh "# Note: --gpu $gpu requested; run.pl does not allocate GPUs\n" if $gpu > 0;
  print $fh "#\n";
  close($fh);

  # The command writes to the log in append mode, after the header.
  open(STDOUT, '>>', $log) or do { print STDERR "run.pl: cannot write log file $log: $!\n"; return 1 };
  open(STDERR, '>&', \*STDOUT) or return 1;
  my $start = time();
  system('bash', '-c', $cmd);
  my $status = $? == -1 ? 127 : ($? & 127) ? 128 + ($? & 127) : $? >> 8;
  my $elapsed = time() - $start;
  print "# Accounting: time=$elapsed threads=$num_threads\n";
  print "# Ended (code $status) at " . localtime() . ", elapsed time $elapsed seconds\n";
  return $status;
}

# Start the jobs, never more than $max_jobs at once.
my %running;    # pid => job id
my @failed;     # failed job ids
sub reap_one {
  my $pid = wait();
  return if $pid < 0;
  my $id = delete $running{$pid};
  push @failed, $id if defined $id && $? != 0;
}
for my $id ($first .. $last) {
  reap_one() while keys(%running) >= $max_jobs;
  my $pid = fork();
  die "run.pl: fork failed: $!\n" unless defined $pid;
  if ($pid == 0) {
    exit(run_job($id) ? 1 : 0);
  }
  $running{$pid} = $id;
}
reap_one() while %running;

if (@failed) {
  my @logs = map { subst($log_spec, $_) } sort { $a <=> $b } @failed;
  print STDERR "run.pl: " . scalar(@failed) . " / $num_jobs failed, log is in @logs\n";
  exit 1;
}
exit 0;
