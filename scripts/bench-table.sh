#!/usr/bin/env bash
# bench-table.sh turns the output of the queue's script benchmarks
# (BenchmarkScripts, BenchmarkOtherScripts, BenchmarkCallScripts) into Markdown tables: µs of
# Redis time per call, mean (median, 10th percentile), and commands run per lifecycle or call.
# Given two outputs (before and after), each cell shows "before → after".
#
#   go test ./queue -run '^$' -bench 'Scripts' -benchtime 1000x -timeout 60m | tee after.txt
#   scripts/bench-table.sh before.txt after.txt
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 bench-output [bench-output-after]" >&2
  exit 2
fi
awk -v nfiles=$# '
FNR == 1 { file++ }
/^Benchmark(Other|Call)?Scripts\// {
  name = $1
  sub(/-[0-9]+$/, "", name)
  if (!(name in seen)) { seen[name] = 1; order[++n] = name }
  for (i = 3; i < NF; i += 2) v[file, name, $(i + 1)] = $i
}
function fmt(x) { return x == "" ? "–" : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
function one(f, name, unit,    s) {
  s = fmt(v[f, name, "redis-µs/" unit]) " (" fmt(v[f, name, "p50-µs/" unit])
  if ((f, name, "p10-µs/" unit) in v) s = s ", " fmt(v[f, name, "p10-µs/" unit])
  return s ")"
}
function cell(name, unit,    s) {
  s = one(1, name, unit)
  if (nfiles == 2) s = s " → " one(2, name, unit)
  return s
}
function count(name, unit,    s) {
  s = fmt(v[1, name, "cmds/" unit])
  if (nfiles == 2) s = s " → " fmt(v[2, name, "cmds/" unit])
  return s
}
function field(name, key,    p) {
  p = name; sub(".*" key "=", "", p); sub(/\/.*/, "", p); return p
}
END {
  print "µs of Redis time per call, mean (median, 10th percentile)" (nfiles == 2 ? ", before → after" : "") "\n"
  print "| agents | waiting | shape | enqueue | accept | wrapup | lifecycle | cmds/lifecycle |"
  print "|---:|---:|:--|--:|--:|--:|--:|--:|"
  for (i = 1; i <= n; i++) {
    nm = order[i]
    if (nm !~ /^BenchmarkScripts\//) continue
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", field(nm, "agents"), field(nm, "waiting"), field(nm, "shape"),
      cell(nm, "enqueue"), cell(nm, "accept"), cell(nm, "wrapup"), cell(nm, "lifecycle"), count(nm, "lifecycle")
  }
  print "\nOther scripts, nothing waiting: µs of Redis time per call, mean (median, 10th percentile); commands per call\n"
  print "| agents | shape | not_ready | ready | connect | reject | end | heartbeat | sweep |"
  print "|---:|:--|--:|--:|--:|--:|--:|--:|--:|"
  split("not_ready ready connect reject end heartbeat sweep", ops, " ")
  for (i = 1; i <= n; i++) {
    nm = order[i]
    if (nm !~ /^BenchmarkOtherScripts\//) continue
    line = "| " field(nm, "agents") " | " field(nm, "shape") " |"
    for (k = 1; k <= 7; k++) line = line " " cell(nm, ops[k]) "; " count(nm, ops[k]) " |"
    print line
  }
  print "\nCalls, nothing waiting: µs of Redis time per call, mean (median, 10th percentile)\n"
  print "| agents | shape | enqueue_call | accept | hangup | wrapup | call | cmds/call |"
  print "|---:|:--|--:|--:|--:|--:|--:|--:|"
  for (i = 1; i <= n; i++) {
    nm = order[i]
    if (nm !~ /^BenchmarkCallScripts\//) continue
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", field(nm, "agents"), field(nm, "shape"), cell(nm, "enqueue_call"),
      cell(nm, "accept"), cell(nm, "hangup"), cell(nm, "wrapup"), cell(nm, "call"), count(nm, "call")
  }
}' "$@"
