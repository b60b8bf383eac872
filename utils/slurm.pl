#!/usr/bin/env perl
# slurm.pl: run a command, or an array of numbered jobs, as one Slurm job array
# (sbatch), wait for it, with the interface of Kaldi's run.pl / slurm.pl.
#
# Usage: utils/slurm.pl [options] [VAR=a:b] log/name.VAR.log command args...
#   VAR=a:b   jobs a..b, Slurm array tasks a..b; VAR (JOB, SPLIT, ...) is
#             replaced by the job number in the log path and in every argument.
# The command is built as utils/run.pl builds it (one argument: as is; several:
# those with whitespace single-quoted, as Kaldi does) and run with `bash -c` on
# the node; its stdout and stderr go to the log, between a header (command,
# start time, Slurm job and node) and a footer (elapsed time, exit code).
# Options (--name value or --name=value):
#   --config FILE      the Slurm options (default: conf/slurm.conf if there, else
#                      egs2/TEMPLATE/conf/slurm.conf; its header describes the format)
#   --max-jobs-run K   at most K array tasks at once (sbatch --array=a-b%K)
#   --sync y|n         accepted and ignored: slurm.pl always waits
#   --NAME VALUE       anything else (--mem, --num-threads, --gpu, --time, ...) is
#                      turned into sbatch options by the config's "option" lines;
#                      an option the config does not know is an error.
# Exits 0 if every job succeeds, else 1 after naming the failed jobs' logs (and
# the Slurm state of those cancelled, timed out or lost with their node).
# Files: LOGDIR/q/NAME.sh (the job script), LOGDIR/q/NAME.ID.rc (exit codes),
# LOGDIR/q/NAME.ID.out (Slurm's own messages, e.g. "CANCELLED AT ...").

use strict;
use warnings;
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use FindBin qw($RealBin);
use Time::HiRes qw(sleep time);

$| = 1;
my $usage = <<'EOF';
Usage: utils/slurm.pl [options] [JOB=a:b] log/name.JOB.log command args...
 e.g.: utils/slurm.pl --mem 4G --num-threads 2 JOB=1:10 exp/log/extract.JOB.log ./extract.sh JOB
Options: --config FILE, --max-jobs-run K, and the options of the config (--mem,
         --num-threads, --gpu, --time, ...)
EOF

sub usage_error { print STDERR "slurm.pl: $_[0]\n$usage"; exit 1 }
sub fail { print STDERR "slurm.pl: $_[0]\n"; exit 1 }

# ---------------------------------------------------------------- arguments
my ($config, $max_jobs, %opts);    # %opts: option name (with _) => value
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $arg = shift @ARGV;
  last if $arg eq '--';
  my ($opt, $value) = $arg =~ /^(--[^=]*)=(.*)$/s ? ($1, $2) : ($arg, undef);
  if (!defined $value) {
    usage_error("option $opt needs a value") unless @ARGV;
    $value = shift @ARGV;
  }
  (my $name = substr($opt, 2)) =~ tr/-/_/;
  usage_error("bad option $opt") unless $name =~ /^\w+$/;
  if ($name eq 'config') {
    $config = $value;
  } elsif ($name eq 'max_jobs_run') {
    usage_error("$opt needs a positive integer, not '$value'") unless $value =~ /^0*[1-9]\d*$/;
    $max_jobs = $value + 0;
  } elsif ($name ne 'sync') {
    $opts{$name} = $value;
  }
}

my ($var, $first, $last) = (undef, 1, 1);
if (@ARGV && $ARGV[0] =~ /^([A-Za-z_]\w*)=([^\/.]*)$/) {
  my $spec = shift @ARGV;
  ($var, my $range) = ($1, $2);
  if ($range =~ /^(\d+):(\d+)$/) { ($first, $last) = ($1 + 0, $2 + 0) }
  elsif ($range =~ /^(\d+)$/) { ($first, $last) = ($1 + 0, $1 + 0) }
  else { usage_error("bad job array spec '$spec' (expected $var=a:b)") }
  usage_error("bad job array spec '$spec': $first > $last") if $first > $last;
}
usage_error("missing log file") unless @ARGV;
my $log_spec = shift @ARGV;
usage_error("missing command") unless @ARGV;
my @cmd_spec = @ARGV;
my @ids = ($first .. $last);
if (@ids > 1 && index($log_spec, $var) < 0) {
  usage_error(scalar(@ids) . " jobs would share the log file $log_spec; put $var in its name");
}

sub subst {
  my ($text, $id) = @_;
  $text =~ s/\Q$var\E/$id/g if defined $var;
  return $text;
}

# As utils/run.pl (and Kaldi): one argument as is; several joined, those with
# whitespace (or empty) single-quoted.
sub shell_join {
  my @args = @_;
  return $args[0] if @args == 1;
  return join(' ', map { /^\S+$/ ? $_ : "'" . s/'/'\\''/gr . "'" } @args);
}

sub sh_quote { my ($s) = @_; return "'" . $s =~ s/'/'\\''/gr . "'" }

# ---------------------------------------------------------------- config
# Lines: "command ARGS", "option NAME=* ARGS" ($0: the value), "option NAME=VALUE
# [ARGS]", "default NAME=VALUE"; '#' starts a comment.
if (!defined $config) {
  $config = -f 'conf/slurm.conf' ? 'conf/slurm.conf' : "$RealBin/../egs2/TEMPLATE/conf/slurm.conf";
}
my (@submit, %rule, %default);    # %rule: "name=*" or "name=value" => [args]
{
  open(my $fh, '<', $config) or fail("cannot read the config $config: $!");
  while (my $line = <$fh>) {
    $line =~ s/#.*//;
    my @w = split ' ', $line;
    next unless @w;
    my $where = "$config:$.";
    if ($w[0] eq 'command' && @w > 1) {
      @submit = @w[1 .. $#w];
    } elsif ($w[0] eq 'option' && @w > 1 && $w[1] =~ /^(\w+)=(\S+)$/) {
      $rule{$w[1]} = [@w[2 .. $#w]];
    } elsif ($w[0] eq 'default' && @w == 2 && $w[1] =~ /^(\w+)=(\S+)$/) {
      $default{$1} = $2;
    } else {
      fail("$where: cannot parse '" . join(' ', @w) . "' (expected: command ARGS | option NAME=* ARGS | "
           . "option NAME=VALUE [ARGS] | default NAME=VALUE)");
    }
  }
}
fail("$config: no 'command' line (e.g. command sbatch --export=ALL)") unless @submit;

my %value = (%default, %opts);
my @sbatch_opts;
for my $name (sort keys %value) {
  my $val = $value{$name};
  my $args = $rule{"$name=$val"} // $rule{"$name=*"};
  if (!$args) {
    my $what = exists $opts{$name} ? "option --" . ($name =~ tr/_/-/r) : "default $name=$val";
    fail("$what: $config has no 'option $name=...' line (known: "
         . join(' ', sort keys %{{ map { s/=.*//r => 1 } keys %rule }}) . ")");
  }
  push @sbatch_opts, map { s/\$0/$val/gr } @$args;
}
my $threads = $value{num_threads} // 1;

# ---------------------------------------------------------------- job script
my (%log, %rc_file, %out_file);
my $qdir = dirname(subst($log_spec, $first)) . '/q';
(my $name = basename($log_spec)) =~ s/\.log$//;
make_path($qdir, { error => \my $mkdir_errors });
fail("cannot create $qdir") unless -d $qdir;
my $script = "$qdir/$name.sh";
for my $id (@ids) {
  $log{$id} = subst($log_spec, $id);
  $rc_file{$id} = "$qdir/$name.$id.rc";
  $out_file{$id} = "$qdir/$name.$id.out";
  unlink($rc_file{$id}, $out_file{$id});
  make_path(dirname($log{$id}), { error => \my $errors });
  open(my $fh, '>', $log{$id}) or fail("cannot write log file $log{$id}: $!");
  (my $shown = shell_join(map { subst($_, $id) } @cmd_spec)) =~ s/\n/\n# /g;
  print $fh "# $shown\n# Submitted to Slurm at " . localtime() . "\n";
  close($fh);
}
{
  open(my $fh, '>', $script) or fail("cannot write $script: $!");
  print $fh "#!/usr/bin/env bash\n# Written by utils/slurm.pl: the jobs of $log_spec, one per array task.\n";
  print $fh "case \"\${SLURM_ARRAY_TASK_ID}\" in\n";
  for my $id (@ids) {
    my $cmd = shell_join(map { subst($_, $id) } @cmd_spec);
    print $fh "  $id) log=" . sh_quote($log{$id}) . " rc=" . sh_quote($rc_file{$id}) . "\n"
      . "     cmd=" . sh_quote($cmd) . " ;;\n";
  }
  print $fh <<EOF;
  *) echo "no job \${SLURM_ARRAY_TASK_ID} in \$0" >&2; exit 1 ;;
esac
stamp() { date '+%a %b %e %H:%M:%S %Y'; }
{
  echo "# \${cmd//\$'\\n'/\$'\\n'# }"
  echo "# Started at \$(stamp)"
  echo "# Note: Slurm job \${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID} on node \$(hostname)"
  echo "#"
} > "\${log}" || exit 1
start=\$(date +%s)
bash -c "\${cmd}" >> "\${log}" 2>&1
code=\$?
elapsed=\$((\$(date +%s) - start))
{
  echo "# Accounting: time=\${elapsed} threads=$threads"
  echo "# Ended (code \${code}) at \$(stamp), elapsed time \${elapsed} seconds"
} >> "\${log}"
echo "\${code}" > "\${rc}"
exit "\${code}"
EOF
  close($fh);
}

# ---------------------------------------------------------------- submit
my $job_name = $name;
$job_name =~ s/\Q$var\E/$first-$last/g if defined $var;
(my $out_pattern = "$qdir/$name.%a.out") =~ s/%(?!a\.out$)/%%/g;
my $array = "$first-$last" . (defined $max_jobs ? "%$max_jobs" : "");
my @sbatch = (@submit, @sbatch_opts, '--parsable', "--array=$array", "--job-name=$job_name",
              "--output=$out_pattern", $script);
my $answer = `@{[ join(' ', map { sh_quote($_) } @sbatch) ]} 2>&1`;
if ($? != 0 || $answer !~ /^(\d+)(;\S+)?\s*$/m) {
  chomp $answer;
  fail("submitting $log_spec failed (sbatch options from $config and the stage):\n  "
       . join(' ', @sbatch) . "\n  $answer");
}
my $job = $1;
my $n = @ids;
print STDERR "slurm.pl: Slurm job $job (" . ($n > 1 ? "$n array tasks" : "1 task")
  . ") for $log_spec\n";

for my $sig (qw(INT TERM HUP)) {
  $SIG{$sig} = sub {
    system('scancel', $job);
    print STDERR "slurm.pl: interrupted (SIG$sig): cancelled Slurm job $job\n";
    exit 1;
  };
}

# ---------------------------------------------------------------- wait
# Each task ends with its exit code in its rc file. A task that left the queue
# without one was cancelled, timed out, lost its node, ... : its Slurm state
# (sacct, else scontrol) says which. COMPLETED/FAILED tasks get a grace period
# for their rc file to show up on a shared file system.
my %why = (
  CANCELLED => 'was cancelled (scancel, or an administrator)',
  TIMEOUT => 'reached its time limit (--time)',
  NODE_FAIL => 'was lost with its node (NODE_FAIL)',
  OUT_OF_MEMORY => 'ran out of memory (--mem)',
  PREEMPTED => 'was preempted', BOOT_FAIL => 'could not start its node (BOOT_FAIL)',
  DEADLINE => 'missed its deadline',
);
my $grace = $ENV{SSLTK_SLURM_GRACE} // 60;

sub expand_ids {    # "3", "1-4", "1,3-5%2" => list of task ids
  my ($spec) = @_;
  $spec =~ s/%.*//;
  return map { /^(\d+)-(\d+)$/ ? ($1 .. $2) : /^(\d+)$/ ? ($1) : () } split /,/, $spec;
}

sub queued_tasks {    # task id => state, for the tasks still queued; undef if squeue failed
  my $out = `squeue -h -r -j $job -o '%i %T' 2>&1`;
  return undef if $? != 0 && $out !~ /Invalid job id/i;
  my %q;
  for (split /\n/, $out) {
    next unless /^${job}_\[?([\d,\-%]+)\]?\s+(\S+)/;
    my $state = $2;
    $q{$_} = $state for expand_ids($1);
  }
  return \%q;
}

sub final_states {    # task id => Slurm state, for the tasks Slurm still knows
  my %s;
  my $out = `sacct -n -X -P -j $job -o JobID,State 2>/dev/null`;
  if ($? == 0) {
    for (split /\n/, $out) {
      next unless /^${job}_\[?([\d,\-%]+)\]?\|(\w+)/;
      my $state = $2;
      $s{$_} = $state for expand_ids($1);
    }
  }
  return \%s if %s;
  for (split /\n/, `scontrol -o show job $job 2>/dev/null`) {
    my ($tasks) = /\bArrayTaskId=(\S+)/ or next;
    my ($state) = /\bJobState=(\w+)/ or next;
    $s{$_} = $state for expand_ids($tasks);
  }
  return \%s;
}

sub read_rc {
  my ($id) = @_;
  open(my $fh, '<', $rc_file{$id}) or return undef;
  my $code = <$fh>;
  return defined $code && $code =~ /^(\d+)\s*$/ ? $1 : undef;
}

my (%code, %lost, %gone_since);    # %code: exit code; %lost: Slurm state of a task without one
my ($poll, $warned) = (0.3, 0);
while (1) {
  for my $id (grep { !exists $code{$_} && !exists $lost{$_} } @ids) {
    my $c = read_rc($id);
    $code{$id} = $c if defined $c;
  }
  my @waiting = grep { !exists $code{$_} && !exists $lost{$_} } @ids;
  last unless @waiting;
  my $queued = queued_tasks();
  if (!defined $queued) {
    print STDERR "slurm.pl: cannot reach Slurm (squeue failed); still waiting for job $job\n" unless $warned++;
  } else {
    $warned = 0;
    my @gone = grep { !exists $queued->{$_} } @waiting;
    if (@gone) {
      my $states = final_states();
      for my $id (@gone) {
        $gone_since{$id} //= time();
        my $state = $states->{$id} // 'UNKNOWN';
        next if !$why{$state} && time() - $gone_since{$id} < $grace;
        next if defined($code{$id} = read_rc($id));
        delete $code{$id};
        $lost{$id} = $state;
        my $what = $why{$state} // "left the queue ($state) without writing its exit code to $rc_file{$id}";
        print STDERR "slurm.pl: job ${job}_$id ($log{$id}) $what\n";
        if (open(my $fh, '>>', $log{$id})) {
          print $fh "# slurm.pl: Slurm job ${job}_$id $what, at " . localtime() . "\n";
          if (open(my $out, '<', $out_file{$id})) { print $fh "# $_" while <$out> }
        }
      }
    }
  }
  sleep($poll);
  $poll = $poll * 1.3 > 10 ? 10 : $poll * 1.3;
}

my @failed = grep { exists $lost{$_} || $code{$_} != 0 } @ids;
if (@failed) {
  my @logs = map { $log{$_} } @failed;
  my @states = map { "${job}_$_ " . (exists $lost{$_} ? $lost{$_} : "exit code $code{$_}") } @failed;
  print STDERR "slurm.pl: " . scalar(@failed) . " / $n failed (Slurm job " . join(', ', @states) . "), log is in @logs\n";
  exit 1;
}
exit 0;
