#!/usr/bin/env bash
# What the Api spends per request, from the process itself: CPU microseconds (/proc/<pid>/stat) and bytes
# allocated (the runtime's dotnet.gc.heap.total_allocated, scraped from /metrics) over 10 s of cache hits
# and 10 s of misses (after 30 s and 20 s of warm-up), with the benchmark's key (every limit and a budget).
# For comparing two trees side by side, as req/s on this 2-core machine moves by a third between runs
# while these figures move far less; run each tree twice, alternating.
#
#   bench/api-cost.sh [TREE] [LABEL]     # TREE: a checkout (default: this one); built in Release first
#   API_ENV="NAME=value ..." bench/api-cost.sh   # the Api run with these variables too (runtime knobs, say)
#   TRACE=hit bench/api-cost.sh          # also: where the hits' allocations come from, by type and stack
#                                        # (bench/AgentPlatform.Bench.Allocations over the measured window); TRACE=miss alike
#   TRACE=cpu-miss bench/api-cost.sh     # also: where the Api's CPU goes on a miss, by function (perf, with the JIT's
#                                        # perf map); TRACE=cpu-hit alike; PERF_OUT=file keeps perf's data;
#                                        # PROFILE=router profiles the Router instead of the Api.
#                                        # Each run also prints the Redis commands per request.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd); label=${2:-$(basename "$repo")}
for project in AgentPlatform.Api AgentPlatform.Router; do
  dotnet build -c Release -v quiet -nologo "$repo/$project/$project.csproj" >/dev/null
done
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(fp); rp=$(fp); ap=$(fp); redp=$(fp)
mk="bench-master-key-0123456789abcdef"; ik="bench-internal-key-0123456789abcdef"; api="http://127.0.0.1:$ap"
completion='{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":10,"total_tokens":19}}'
cat > "$work/nginx.conf" <<NGINX
worker_processes 1; pid $work/nginx.pid; error_log $work/e.log warn; events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work; server { listen 127.0.0.1:$up; keepalive_requests 1000000; location / { default_type application/json; return 200 '$completion'; } } }
NGINX
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" 2>/dev/null || nginx -c "$work/nginx.conf" -p "$work"
redis-server --port "$redp" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 & pids+=($!)
export ASPNETCORE_ENVIRONMENT=Production ConnectionStrings__cache="127.0.0.1:$redp" AgentPlatform__InternalKey="$ik"
# perf names JIT-compiled code from the runtime's perf map, which W^X's double mapping hides.
[[ "${TRACE:-}" == cpu-* ]] && export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
env ASPNETCORE_URLS="http://127.0.0.1:$rp" Router__ModelGroups__bench__Deployments__0__Name=bench Router__ModelGroups__bench__Deployments__0__BaseUrl="http://127.0.0.1:$up/v1" \
  Router__ModelGroups__bench__Deployments__0__Model=m Router__ModelGroups__bench__Deployments__0__InputPricePerMillion=0.15 Router__ModelGroups__bench__Deployments__0__OutputPricePerMillion=0.6 \
  dotnet $repo/AgentPlatform.Router/bin/Release/net10.0/AgentPlatform.Router.dll --contentRoot $repo/AgentPlatform.Router/bin/Release/net10.0 >"$work/router.log" 2>&1 & pids+=($!); routerpid=$!
env ${API_ENV:-} ASPNETCORE_URLS="$api" services__router__http__0="http://127.0.0.1:$rp" AgentPlatform__MasterKey="$mk" AgentPlatform__MetricsKey="metrics-key-0123456789abcdef" Cache__Enabled=true Cache__TtlSeconds=300 \
  dotnet $repo/AgentPlatform.Api/bin/Release/net10.0/AgentPlatform.Api.dll --contentRoot $repo/AgentPlatform.Api/bin/Release/net10.0 >"$work/api.log" 2>&1 & pids+=($!); apipid=$!
for u in "$api/health" "http://127.0.0.1:$rp/health"; do for _ in $(seq 1 150); do curl -fs -o /dev/null "$u" && break; sleep 0.2; done; done
adm() { curl -fsS -X POST -H "Authorization: Bearer $mk" -H 'Content-Type: application/json' -d "$2" "$api/admin/v1/$1"; }
tid=$(adm tenants '{"name":"b","budgetUsd":1000000,"budgetPeriod":"monthly"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(adm keys "{\"tenantId\":\"$tid\",\"name\":\"b\",\"rpm\":1000000000,\"tpm\":2000000000,\"maxConcurrent\":100000,\"budgetUsd\":1000000,\"budgetPeriod\":\"daily\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
cat > "$work/static.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say something."}],"max_tokens":64}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
# Every body unique: wrk's threads share math.random's seed, so each numbers its own (thread id, counter).
cat > "$work/miss.lua" <<LUA
local threads, c = 0, 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) math.randomseed(os.time()) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
function request() c = c + 1; return wrk.format(nil, nil, nil, '{"model":"bench","messages":[{"role":"user","content":"Say ' .. math.random(1e9) .. '-' .. wrk.thread:get("id") .. '-' .. c .. '"}],"max_tokens":64}') end
LUA
cpu() { awk '{ print $14 + $15 }' "/proc/$apipid/stat"; }
allocated() { curl -fsS -H "Authorization: Bearer metrics-key-0123456789abcdef" "$api/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total/ { print $2 }'; }
allocations="$(dirname "$0")/AgentPlatform.Bench.Allocations"
[ -n "${TRACE:-}" ] && dotnet build -c Release -v quiet -nologo "$allocations" >/dev/null
commands() { redis-cli -p "$redp" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { sub(/^cmdstat_/, "", $1); print $1, $3 }'; }
measure() { # script, warm-up seconds, label[, trace]: prints "req/s cpu-us-per-request bytes-per-request"; the Redis commands to $work/commands-<label>
  wrk -t2 -c32 -d"$2s" -s "$1" "$api/v1/chat/completions" >/dev/null
  local c0 a0 rps c1 a1 tracer=""
  c0=$(cpu); a0=$(allocated); commands >"$work/before"
  # Traced, the window's figures are the trace's load: compare untraced runs with each other only.
  case "${4:-}" in
    alloc) dotnet "$allocations/bin/Release/net10.0/AgentPlatform.Bench.Allocations.dll" collect "$apipid" 10 "$work/trace.nettrace" & tracer=$! ;;
    cpu) perf record -F 1999 -g -p "$([ "${PROFILE:-api}" = router ] && echo "$routerpid" || echo "$apipid")" -o "$work/perf.data" -- sleep 10 >/dev/null 2>&1 & tracer=$! ;;
  esac
  rps=$(wrk -t2 -c32 -d10s -s "$1" "$api/v1/chat/completions" | awk '/Requests\/sec/ { print $2 }')
  [ -n "$tracer" ] && wait "$tracer"
  c1=$(cpu); a1=$(allocated)
  # Redis commands per request, Lua's own calls included, most first.
  commands | awk -v r="$rps" 'NR == FNR { before[$1] = $2; next } { n = ($2 - before[$1]) / (r * 10); if (n >= 0.01) printf "%7.2f %s\n", n, $1 }' "$work/before" - \
    | sort -rn >"$work/commands-$3"
  awk -v r="$rps" -v c0="$c0" -v c1="$c1" -v a0="$a0" -v a1="$a1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%6.0f req/s %5.0f us %6.0f B", r, (c1 - c0) / hz * 1e6 / (r * 10), (a1 - a0) / (r * 10) }'
}
trace_of() { case "${TRACE:-}" in "$1") echo alloc ;; "cpu-$1") echo cpu ;; esac; }
hit=$(measure "$work/static.lua" 30 hit "$(trace_of hit)")
[ "${TRACE:-}" = hit ] && requests=$(awk '{ print $1 * 10 }' <<<"$hit")
miss=$(measure "$work/miss.lua" 20 miss "$(trace_of miss)")
[ "${TRACE:-}" = miss ] && requests=$(awk '{ print $1 * 10 }' <<<"$miss")
echo "$label  hit: $hit  miss: $miss"
for scenario in hit miss; do
  echo; echo "Redis commands per $scenario ($(awk '{ n += $1 } END { printf "%.1f", n }' "$work/commands-$scenario") in all):"
  paste -sd' ' "$work/commands-$scenario" | fold -s -w 120
done
case "${TRACE:-}" in
  hit|miss) dotnet "$allocations/bin/Release/net10.0/AgentPlatform.Bench.Allocations.dll" report "$work/trace.nettrace" "$requests" ;;
  cpu-*)
    # The whole reports first: head closing the pipe early would fail the script (pipefail).
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' >"$work/self" || true
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' >"$work/inclusive" || true
    tidy() { sed -E 's/\[OptimizedTier1\]|\[Optimized\]|valuetype |instance |\[[A-Za-z.]+\] //g; s/ +$//' "$1" | cut -c1-200 | awk -v n="$2" 'NR <= n'; }
    echo; echo "The ${PROFILE:-api}'s CPU by function (self time, % of the samples):"; tidy "$work/self" 40
    echo; echo "... and with what they call (inclusive):"; tidy "$work/inclusive" 100
    [ -n "${PERF_OUT:-}" ] && cp "$work/perf.data" "$PERF_OUT" ;;
esac
true
