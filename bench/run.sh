#!/usr/bin/env bash
# The gateway benchmark, every figure from one run on one machine: direct upstream, the floor
# (bench/AgentPlatform.Bench.Floor) and the platform (Api + Router + Redis, Release build, production
# settings) against the same static nginx upstream and, for streams, the simulator.
# Prints a table and writes bench/results/latest.json. See docs/performance.md.
#
#   bench/run.sh              # 10 s per scenario (about 5 minutes in all)
#   bench/run.sh --warmup 20  # seconds of warm-up before each scenario (three times that for the platform's throughput runs)
#   bench/run.sh --duration 30
#   bench/run.sh --smoke      # every scenario for a moment, to check the harness works (CI runs it)
#   bench/run.sh --throughput-only   # the wrk scenarios alone, for comparing changes quickly
#   bench/run.sh --memory-only       # idle RSS and held streams alone (on fresh processes, so lower than after the throughput runs)
#   HOLD_SECONDS=60 bench/run.sh --memory-only   # streams held a minute (to look inside the processes meanwhile)
#   bench/run.sh --cluster    # the platform on a six-node Redis Cluster (3 masters, 3 replicas) instead of one Redis
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
# Long enough for tiered compilation with dynamic PGO to settle: with 3 s the JIT still took a tenth of
# the CPU during the measurement and every .NET figure came out 30-60% low. The platform has far more
# code on its path than the floor: 10 s after its miss path first ran, its JIT still compiled 400
# methods a second (half of them PGO instrumentation) and took a quarter of a core, so the platform's
# throughput runs warm up three times as long (the latency, first-token and overhead runs that follow
# find its code already compiled) — steady state is what a gateway that runs for days sees.
warmup=10
connections=32
rate=1000          # requests/s of the fixed-rate latency runs
samples=500        # sequential requests of the time-to-first-token and overhead runs
# Each held stream takes two descriptors in the Api (client and Router connections) and this machine's
# hard limit per process is 20,000, so 10,000 streams cannot be held here (docs/performance.md).
streams=9000
smoke=0
throughput_only=0
memory_only=0
cluster=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --throughput-only) throughput_only=1; shift ;;
    --memory-only) memory_only=1; shift ;;
    --cluster) cluster=1; shift ;;
    --smoke) duration=1; warmup=1; samples=30; streams=200; smoke=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ulimit -n "$(ulimit -Hn)"

missing=()
for tool in nginx wrk hey redis-server redis-cli; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]/redis-cli/redis-tools}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP_BENCH_WORK:-}" ] && echo "work dir kept: $work" || rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + RANDOM % 20000)); }
upstream_port=$(free_port); floor_port=$(free_port); floor2_port=$(free_port); router_port=$(free_port); api_port=$(free_port); redis_port=$(free_port)
sim_port=$(free_port); slow_sim_port=$(free_port)
stream_floor_port=$(free_port); stream_floor2_port=$(free_port); hold_floor_port=$(free_port); hold_floor2_port=$(free_port)
master_key="bench-master-key-0123456789abcdef"
internal_key="bench-internal-key-0123456789abcdef" # what the Api presents to the Router, as the AppHost gives both
metrics_key="bench-metrics-key-0123456789abcdef"   # the scrape credential of /metrics: the runtime's allocation counter
api="http://127.0.0.1:$api_port"

echo "Building (Release)..."
for project in AgentPlatform.Api AgentPlatform.Router AgentPlatform.Simulator bench/AgentPlatform.Bench.Floor bench/AgentPlatform.Bench.Load; do
  dotnet build -c Release -v quiet -nologo "$project/$(basename "$project").csproj" >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
done

# The static upstream: one nginx worker answering a fixed OpenAI-style completion.
completion='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":10,"total_tokens":19}}'
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work;
  server {
    listen 127.0.0.1:$upstream_port;
    keepalive_requests 1000000;
    location / { default_type application/json; return 200 '$completion'; }
  }
}
NGINX
"$NGINX" -c "$work/nginx.conf" -p "$work"

# Redis: one node, or (--cluster) six joined into a cluster, the first three masters.
redis_pids=()
redis_node() { # port, extra arguments...
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$work" "${@:2}" >"$work/redis-$1.log" 2>&1 &
  pids+=($!); redis_pids+=($!)
}
if [ "$cluster" = 1 ]; then
  cluster_ports=()
  for _ in 1 2 3 4 5 6; do
    # The cluster bus port given, not Redis' default (port + 10000, past 65535 for a high free port).
    port=$(free_port); cluster_ports+=("$port")
    redis_node "$port" --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-port "$(free_port)"
  done
  for port in "${cluster_ports[@]}"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null || { echo "redis-server on port $port did not start: $(cat "$work/redis-$port.log")" >&2; exit 1; }
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") --cluster-replicas 1 --cluster-yes >"$work/cluster-create.log"
  for port in "${cluster_ports[@]}"; do
    for _ in $(seq 150); do redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.2; done
    redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' || { echo "node $port does not see the cluster ok" >&2; exit 1; }
  done
  redis_connection=$(printf '127.0.0.1:%s,' "${cluster_ports[@]:0:3}"); redis_connection=${redis_connection%,}
  redis_masters=("${cluster_ports[@]:0:3}")
else
  redis_node "$redis_port"
  redis_connection="127.0.0.1:$redis_port"
  redis_masters=("$redis_port")
fi

ASPNETCORE_URLS="http://127.0.0.1:$floor_port" Upstream="http://127.0.0.1:$upstream_port/v1/chat/completions" \
  dotnet bench/AgentPlatform.Bench.Floor/bin/Release/net10.0/AgentPlatform.Bench.Floor.dll >"$work/floor.log" 2>&1 &
pids+=($!); floor_pid=$!
# The two-hop floor: the floor chained twice (floor -> floor -> nginx), what any two-service design costs here.
ASPNETCORE_URLS="http://127.0.0.1:$floor2_port" Upstream="http://127.0.0.1:$floor_port/v1/chat/completions" \
  dotnet bench/AgentPlatform.Bench.Floor/bin/Release/net10.0/AgentPlatform.Bench.Floor.dll >"$work/floor2.log" 2>&1 &
pids+=($!); floor2_pid=$!

# Simulators for streams: one answering at once (time to first token), one streaming a token a
# second for two minutes (streams held open).
simulator() {
  env ASPNETCORE_URLS="http://127.0.0.1:$1" ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning "${@:2}" \
    dotnet AgentPlatform.Simulator/bin/Release/net10.0/AgentPlatform.Simulator.dll --contentRoot "$PWD/AgentPlatform.Simulator/bin/Release/net10.0" \
    >"$work/sim-$1.log" 2>&1 &
  pids+=($!)
}
simulator "$sim_port" Simulator__OutputTokens=16
simulator "$slow_sim_port" Simulator__OutputTokens=120 Simulator__TokenIntervalMs=1000
# The two-hop floor in front of each simulator: what two bare .NET hops add to the time to first token,
# and what they hold per open stream (with workstation GC, as the Api and the Router run).
floor_process() { # port, upstream URL, log name
  DOTNET_gcServer=0 ASPNETCORE_URLS="http://127.0.0.1:$1" Upstream="$2" \
    dotnet bench/AgentPlatform.Bench.Floor/bin/Release/net10.0/AgentPlatform.Bench.Floor.dll >"$work/$3.log" 2>&1 &
  pids+=($!)
}
floor_process "$stream_floor_port" "http://127.0.0.1:$sim_port/v1/chat/completions" stream-floor
floor_process "$stream_floor2_port" "http://127.0.0.1:$stream_floor_port/v1/chat/completions" stream-floor2
floor_process "$hold_floor_port" "http://127.0.0.1:$slow_sim_port/v1/chat/completions" hold-floor; hold_floor_pid=$!
floor_process "$hold_floor2_port" "http://127.0.0.1:$hold_floor_port/v1/chat/completions" hold-floor2; hold_floor2_pid=$!

# Production settings: each service's own appsettings.json (content root = its output folder).
export ASPNETCORE_ENVIRONMENT=Production ConnectionStrings__cache="$redis_connection" AgentPlatform__InternalKey="$internal_key" \
  AgentPlatform__MetricsKey="$metrics_key"
group() { # name, base URL: a model group of one deployment, priced so that budgets apply
  echo "Router__ModelGroups__$1__Deployments__0__Name=$1" "Router__ModelGroups__$1__Deployments__0__BaseUrl=$2" \
    "Router__ModelGroups__$1__Deployments__0__Model=bench-model" \
    "Router__ModelGroups__$1__Deployments__0__InputPricePerMillion=0.15" "Router__ModelGroups__$1__Deployments__0__OutputPricePerMillion=0.6"
}
# shellcheck disable=SC2046
env ASPNETCORE_URLS="http://127.0.0.1:$router_port" \
  $(group bench "http://127.0.0.1:$upstream_port/v1") \
  $(group stream "http://127.0.0.1:$sim_port/v1") \
  $(group hold "http://127.0.0.1:$slow_sim_port/v1") \
  dotnet AgentPlatform.Router/bin/Release/net10.0/AgentPlatform.Router.dll --contentRoot "$PWD/AgentPlatform.Router/bin/Release/net10.0" >"$work/router.log" 2>&1 &
pids+=($!); router_pid=$!
ASPNETCORE_URLS="http://127.0.0.1:$api_port" services__router__http__0="http://127.0.0.1:$router_port" \
  AgentPlatform__MasterKey="$master_key" Cache__Enabled=true Cache__TtlSeconds=300 \
  dotnet AgentPlatform.Api/bin/Release/net10.0/AgentPlatform.Api.dll --contentRoot "$PWD/AgentPlatform.Api/bin/Release/net10.0" >"$work/api.log" 2>&1 &
pids+=($!); api_pid=$!

wait_ready() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
wait_ready "$api/health"
wait_ready "http://127.0.0.1:$router_port/health"
wait_ready "http://127.0.0.1:$sim_port/health"
wait_ready "http://127.0.0.1:$slow_sim_port/health"
# The floors have no health route: any answer means they listen.
for port in "$stream_floor_port" "$stream_floor2_port" "$hold_floor_port" "$hold_floor2_port"; do
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
done

# A tenant and a virtual key as a customer would have them: every limit and a budget, high enough
# never to refuse, so each request pays for checking them (one Lua call) and settling them (one more).
admin() { curl -fsS -X POST -H "Authorization: Bearer $master_key" -H 'Content-Type: application/json' -d "$2" "$api/admin/v1/$1"; }
tenant_id=$(admin tenants '{"name":"bench","budgetUsd":1000000,"budgetPeriod":"monthly"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(admin keys "{\"tenantId\":\"$tenant_id\",\"name\":\"bench\",\"rpm\":1000000000,\"tpm\":2000000000,\"maxConcurrent\":100000,\"budgetUsd\":1000000,\"budgetPeriod\":\"daily\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

# Memory at rest, after start-up and one answer each.
chat() { # model, extra curl arguments...: one chat completion with the key; prints the response headers
  curl -fsS -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $key" "${@:2}" \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":64}" "$api/v1/chat/completions"
}
# (and the first call of a body misses: the miss path below really misses)
[ "$(chat bench | awk 'tolower($1) == "x-agentplatform-cache:" { print $2 }' | tr -d '\r')" = miss ] \
  || { echo "the platform's first call does not miss the cache" >&2; exit 1; }
rss_mb() { local files=(); for pid in "$@"; do files+=("/proc/$pid/status"); done; awk '/VmRSS/ { kb += $2 } END { printf "%.0f", kb / 1024 }' "${files[@]}"; }
# CPU time (clock ticks) each Redis process has used so far, space-separated; and one process's.
redis_ticks() { for pid in "${redis_pids[@]}"; do awk '{ printf "%d ", $14 + $15 }' "/proc/$pid/stat"; done; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU time (clock ticks) the whole machine has spent busy so far, all cores: user, nice, system, irq, softirq, steal.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# Bytes a service's runtime has allocated so far (its /metrics, the runtime's counter of every allocation).
allocated() { curl -fsS -H "Authorization: Bearer $metrics_key" "$1/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total/ { s += $2 } END { printf "%.0f", s }'; }
# Commands the Redis masters have run so far (Lua's own calls included), and of them script calls: "commands scripts".
redis_commands() {
  for port in "${redis_masters[@]}"; do redis-cli -p "$port" info commandstats; done | tr -d '\r' | awk -F'[:=,]' '
    /^cmdstat_/ && $1 != "cmdstat_info" { total += $3; if ($1 ~ /^cmdstat_eval/) scripts += $3 }
    END { printf "%d %d", total, scripts }'
}
api_idle=$(rss_mb "$api_pid"); router_idle=$(rss_mb "$router_pid")

# The miss path: every request unique (run label, thread, counter), so each one is looked up in the
# cache, misses, goes through the Router to nginx, and is stored. The hit path: one body, always hit.
body_prefix='{"model":"bench","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say something about gateways.'
body_suffix='"}],"max_tokens":64}'
cat > "$work/miss.lua" <<LUA
local threads, counter, label = 0, 0, "run"
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) label = args[1] or "run" end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '$body_prefix ' .. label .. '-' .. wrk.thread:get("id") .. '-' .. counter .. '$body_suffix')
end
LUA
cat > "$work/static.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body_prefix$body_suffix'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA

# Throughput at $connections connections. Prints "rps p50_ms p99_ms redis_us busiest_us api_us router_us
# commands scripts api_bytes router_bytes", per request answered over the measured run: the CPU time all
# Redis processes, and the busiest one alone, used (on a cluster, the busiest node is the shard holding
# the benchmark's one tenant: its ceiling); the Api's and the Router's CPU time; the Redis commands run
# (Lua's own calls included) and of them script calls; the bytes the Api and the Router allocated; then
# the two floor processes' CPU time and the whole machine's (every process: wrk, nginx and Redis too).
throughput() { # url, script, label, warm-up seconds
  wrk -t2 -c"$connections" -d"${4:-$warmup}s" -s "$2" "$1" -- "$3-warm" >/dev/null
  local redis_before api_before router_before commands_before api_bytes_before router_bytes_before floors_before machine_before
  redis_before=$(redis_ticks); api_before=$(ticks "$api_pid"); router_before=$(ticks "$router_pid"); commands_before=$(redis_commands)
  floors_before=$(( $(ticks "$floor_pid") + $(ticks "$floor2_pid") )); machine_before=$(machine_ticks)
  api_bytes_before=$(allocated "$api"); router_bytes_before=$(allocated "$router")
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$2" "$1" -- "$3" >"$work/wrk-$3.out"
  awk -v before="$redis_before" -v after="$(redis_ticks)" -v hz="$(getconf CLK_TCK)" \
    -v api="$(( $(ticks "$api_pid") - api_before ))" -v router="$(( $(ticks "$router_pid") - router_before ))" \
    -v commands_before="$commands_before" -v commands_after="$(redis_commands)" \
    -v api_bytes="$(( $(allocated "$api") - api_bytes_before ))" -v router_bytes="$(( $(allocated "$router") - router_bytes_before ))" \
    -v floors="$(( $(ticks "$floor_pid") + $(ticks "$floor2_pid") - floors_before ))" -v machine="$(( $(machine_ticks) - machine_before ))" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ { total = $1 }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50.000%" || $1 == "50%" { p50 = ms($2) }
    $1 == "99.000%" || $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses/ { errors = $NF }
    END { if (errors > 0) { print "non-2xx responses: " errors > "/dev/stderr"; exit 1 }
          n = split(before, b, " "); split(after, a, " "); ticks = 0; busiest = 0
          for (i = 1; i <= n; i++) { ticks += a[i] - b[i]; if (a[i] - b[i] > busiest) busiest = a[i] - b[i] }
          us = total > 0 ? 1000000 / hz / total : 0; per = total > 0 ? 1 / total : 0
          split(commands_before, c0, " "); split(commands_after, c1, " ")
          printf "%.0f %.3f %.3f %.1f %.1f %.1f %.1f %.2f %.2f %.0f %.0f %.1f %.1f\n", rps, p50, p99, ticks * us, busiest * us, api * us, router * us,
            (c1[1] - c0[1]) * per, (c1[2] - c0[2]) * per, api_bytes * per, router_bytes * per, floors * us, machine * us }' "$work/wrk-$3.out"
}

# Latency at a fixed $rate requests/s (hey: 20 workers of rate/20 each). Prints "p50_ms p99_ms".
# hey sends one body, so the platform's miss is forced with Cache-Control: no-store (looked up, never stored).
fixed_rate() { # url, extra hey arguments...
  hey -z "${warmup}s" -c 20 -q $((rate / 20)) -m POST -T application/json -d "$body_prefix$body_suffix" "${@:2}" "$1" >/dev/null
  hey -z "${duration}s" -c 20 -q $((rate / 20)) -m POST -T application/json -d "$body_prefix$body_suffix" "${@:2}" "$1" | awk '
    /Status code distribution/ { codes = 1 }
    codes && /\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); if ($1 != 200) { print "status " $1 ": " $2 > "/dev/stderr"; bad = 1 } }
    $1 == "50%" { p50 = $3 * 1000 }
    $1 == "99%" { p99 = $3 * 1000 }
    END { if (bad) exit 1; printf "%.3f %.3f\n", p50, p99 }'
}

load() { # mode, arguments...: the load client
  dotnet bench/AgentPlatform.Bench.Load/bin/Release/net10.0/AgentPlatform.Bench.Load.dll "$@"
}
# Opens $streams streams through $1 (model $2) and returns once each has its first event; finish_hold then
# waits for them to be let go and sets held (how many were open). Each hold writes a log of its own ($3):
# a second hold reading the first one's "ready" would measure before its streams were open.
start_hold() {
  hold_log="$work/hold-$3.log"
  load hold --platform "$1" --platform-model "$2" --key "$key" --streams "$streams" --hold-seconds "${HOLD_SECONDS:-3}" >"$hold_log" 2>&1 &
  hold_pid=$!
  until grep -q '^ready' "$hold_log" 2>/dev/null; do
    kill -0 "$hold_pid" 2>/dev/null || { cat "$hold_log" >&2; exit 1; }
    sleep 0.5
  done
}
finish_hold() {
  wait "$hold_pid" || { cat "$hold_log" >&2; exit 1; }
  local hold
  hold=$(tail -n 1 "$hold_log")
  held=$(json "$hold" "d['open']")
  [ "$(json "$hold" "d['failed']")" = 0 ] || { echo "held streams failed: $hold" >&2; exit 1; }
}
kb_per_stream() { awk -v mb="$1" -v n="$held" 'BEGIN { printf "%.1f", mb * 1024 / n }'; }
# Holds $streams streams open through the platform, then through the two-hop floor; sets the RSS of the Api
# and the Router before and while held, and the KB per stream of each.
hold_streams() {
  echo "Holding $streams streams through the platform, then through the two-hop floor..."
  api_before=$(rss_mb "$api_pid"); router_before=$(rss_mb "$router_pid")
  start_hold "$platform" hold platform
  api_held=$(rss_mb "$api_pid"); router_held=$(rss_mb "$router_pid")
  finish_hold
  held_growth_mb=$(( api_held + router_held - api_before - router_before ))
  per_stream_kb=$(kb_per_stream "$held_growth_mb")
  # One stream through the floors first, so that their growth is the streams' and not the code's first run.
  curl -s -o /dev/null --max-time 2 -X POST -H 'Content-Type: application/json' \
    -d '{"model":"hold","stream":true,"messages":[{"role":"user","content":"warm"}]}' "$hold_floor" || true
  local floors_before
  floors_before=$(( $(rss_mb "$hold_floor_pid") + $(rss_mb "$hold_floor2_pid") ))
  start_hold "$hold_floor" hold floor
  floors_held_growth_mb=$(( $(rss_mb "$hold_floor_pid") + $(rss_mb "$hold_floor2_pid") - floors_before ))
  finish_hold
  floor_per_stream_kb=$(kb_per_stream "$floors_held_growth_mb")
}
held_line() {
  echo "held streams: $held open, Api + Router grew $held_growth_mb MB (Api $api_before -> $api_held, Router $router_before -> $router_held): $per_stream_kb KB per stream (target <= 50)"
  echo "held streams through the two-hop floor: $held open, the two floors grew $floors_held_growth_mb MB: $floor_per_stream_kb KB per stream"
}
json() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

upstream="http://127.0.0.1:$upstream_port/v1/chat/completions"
floor="http://127.0.0.1:$floor_port/v1/chat/completions"
floor2="http://127.0.0.1:$floor2_port/v1/chat/completions"
router="http://127.0.0.1:$router_port"
hold_floor="http://127.0.0.1:$hold_floor2_port/v1/chat/completions"
platform="$api/v1/chat/completions"

if [ "$memory_only" = 1 ]; then
  hold_streams
  held_line
  echo "RSS MB idle: api $api_idle, router $router_idle (target <= 120, <= 90)"
  exit 0
fi

echo "Throughput: ${duration}s per scenario after ${warmup}s of warm-up ($((3 * warmup))s for the platform's), $connections connections..."
read -r direct_rps direct_p50 direct_p99 _ _ _ _ _ _ _ _ _ direct_machine_us < <(throughput "$upstream" "$work/static.lua" direct)
read -r floor_rps floor_p50 floor_p99 _ _ _ _ _ _ _ _ floor_hop_us floor_machine_us < <(throughput "$floor" "$work/static.lua" floor)
read -r floor2_rps floor2_p50 floor2_p99 _ _ _ _ _ _ _ _ floor2_hops_us floor2_machine_us < <(throughput "$floor2" "$work/static.lua" floor2)
read -r miss_rps miss_p50 miss_p99 miss_redis_us miss_busiest_us miss_api_us miss_router_us miss_commands miss_scripts miss_api_bytes miss_router_bytes _ miss_machine_us \
  < <(throughput "$platform" "$work/miss.lua" miss $((3 * warmup)))
read -r hit_rps hit_p50 hit_p99 hit_redis_us hit_busiest_us hit_api_us hit_router_us hit_commands hit_scripts hit_api_bytes hit_router_bytes _ hit_machine_us \
  < <(throughput "$platform" "$work/static.lua" hit $((3 * warmup)))
per_request() { # label, then the figures of one scenario
  printf '%-22s %8s %8s %8s %9s %9s %9s %10s\n' "$@"
}
per_request_table() {
  echo "Per request (over the measured run):"
  per_request scenario "Api us" "Router us" "Redis us" "commands" "scripts" "Api bytes" "Router bytes"
  per_request "miss path" "$miss_api_us" "$miss_router_us" "$miss_redis_us" "$miss_commands" "$miss_scripts" "$miss_api_bytes" "$miss_router_bytes"
  per_request "cache hit" "$hit_api_us" "$hit_router_us" "$hit_redis_us" "$hit_commands" "$hit_scripts" "$hit_api_bytes" "$hit_router_bytes"
  echo "Whole-machine CPU per request (every process, both cores): direct ${direct_machine_us} us; floor ${floor_machine_us} (the floor's own ${floor_hop_us});" \
    "two-hop ${floor2_machine_us} (the two floors' own ${floor2_hops_us}); miss ${miss_machine_us}; hit ${hit_machine_us}"
}
api_loaded=$(rss_mb "$api_pid"); router_loaded=$(rss_mb "$router_pid"); redis_loaded=$(rss_mb "${redis_pids[@]}")
if [ "$throughput_only" = 1 ]; then
  printf '%-22s %8s %8s %8s %8s\n' scenario "req/s" "p50 ms" "p99 ms" "vs floor"
  printf '%-22s %8s %8s %8s\n' direct "$direct_rps" "$direct_p50" "$direct_p99"
  printf '%-22s %8s %8s %8s %8s\n' floor "$floor_rps" "$floor_p50" "$floor_p99" 1.00
  printf '%-22s %8s %8s %8s %8s\n' "two-hop floor" "$floor2_rps" "$floor2_p50" "$floor2_p99" "$(awk -v p="$floor2_rps" -v f="$floor_rps" 'BEGIN { printf "%.2f", p / f }')"
  printf '%-22s %8s %8s %8s %8s  %s\n' "miss path" "$miss_rps" "$miss_p50" "$miss_p99" "$(awk -v p="$miss_rps" -v f="$floor_rps" 'BEGIN { printf "%.2f", p / f }')" \
    "$(awk -v p="$miss_rps" -v f="$floor2_rps" 'BEGIN { printf "%.2f of the two-hop floor", p / f }')"
  printf '%-22s %8s %8s %8s %8s\n' "cache hit" "$hit_rps" "$hit_p50" "$hit_p99" "$(awk -v p="$hit_rps" -v f="$floor_rps" 'BEGIN { printf "%.2f", p / f }')"
  echo "RSS MB: api idle $api_idle, loaded $api_loaded; router idle $router_idle, loaded $router_loaded; redis $redis_loaded"
  echo "Redis CPU per request ($([ "$cluster" = 1 ] && echo "6-node cluster" || echo "one node")): miss ${miss_redis_us} us (busiest node ${miss_busiest_us}), hit ${hit_redis_us} us (busiest node ${hit_busiest_us})"
  per_request_table
  exit 0
fi

echo "Latency at $rate requests/s..."
read -r direct_fixed_p50 direct_fixed_p99 < <(fixed_rate "$upstream")
read -r floor_fixed_p50 floor_fixed_p99 < <(fixed_rate "$floor")
read -r floor2_fixed_p50 floor2_fixed_p99 < <(fixed_rate "$floor2")
read -r miss_fixed_p50 miss_fixed_p99 < <(fixed_rate "$platform" -H "Authorization: Bearer $key" -H "Cache-Control: no-store")
read -r hit_fixed_p50 hit_fixed_p99 < <(fixed_rate "$platform" -H "Authorization: Bearer $key")

echo "Time to first token and the overhead header, $samples requests one at a time..."
ttft=$(load ttft --direct "http://127.0.0.1:$sim_port/v1/chat/completions" --direct-model bench-model \
  --floor "http://127.0.0.1:$stream_floor2_port/v1/chat/completions" \
  --platform "$platform" --platform-model stream --key "$key" --count "$samples" --warmup-seconds "$warmup" | tail -n 1)
overhead=$(load overhead --direct "$upstream" --direct-model bench-model \
  --platform "$platform" --platform-model bench --key "$key" --count "$samples" --warmup-seconds "$warmup" | tail -n 1)

hold_streams

ratio() { awk -v p="$1" -v f="$2" 'BEGIN { printf "%.2f", p / f }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
miss_ratio=$(ratio "$miss_rps" "$floor_rps"); hit_ratio=$(ratio "$hit_rps" "$floor_rps")
floor2_ratio=$(ratio "$floor2_rps" "$floor_rps"); miss_two_hop_ratio=$(ratio "$miss_rps" "$floor2_rps")
# The added latency and time to first token are judged over the two-hop floor (what any two services
# cost); over direct is kept for comparison with earlier runs.
added_p50=$(minus "$miss_fixed_p50" "$direct_fixed_p50"); added_p99=$(minus "$miss_fixed_p99" "$direct_fixed_p99")
added_floor_p50=$(minus "$miss_fixed_p50" "$floor2_fixed_p50"); added_floor_p99=$(minus "$miss_fixed_p99" "$floor2_fixed_p99")
ttft_p50=$(json "$ttft" "round(d['addedP50Ms'], 3)"); ttft_p99=$(json "$ttft" "round(d['addedP99Ms'], 3)")
ttft_floor_p50=$(json "$ttft" "round(d['addedOverFloorP50Ms'], 3)"); ttft_floor_p99=$(json "$ttft" "round(d['addedOverFloorP99Ms'], 3)")
overhead_ratio=$(json "$overhead" "round(d['reportedToAdded'], 2)")

row() { printf '%-34s %10s %9s %9s %9s  %s\n' "$@"; }
echo
row scenario "req/s" "p50 ms" "p99 ms" "vs floor" "note"
row "direct (nginx)" "$direct_rps" "$direct_p50" "$direct_p99" "" ""
row "floor" "$floor_rps" "$floor_p50" "$floor_p99" "1.00" ""
row "two-hop floor" "$floor2_rps" "$floor2_p50" "$floor2_p99" "$floor2_ratio" ""
row "platform miss path" "$miss_rps" "$miss_p50" "$miss_p99" "$miss_ratio" "$miss_two_hop_ratio of the two-hop floor (target >= 0.80)"
row "platform cache hit" "$hit_rps" "$hit_p50" "$hit_p99" "$hit_ratio" "target >= 0.80"
row "direct at $rate/s" "" "$direct_fixed_p50" "$direct_fixed_p99" "" ""
row "floor at $rate/s" "" "$floor_fixed_p50" "$floor_fixed_p99" "" ""
row "two-hop floor at $rate/s" "" "$floor2_fixed_p50" "$floor2_fixed_p99" "" ""
row "platform miss at $rate/s" "" "$miss_fixed_p50" "$miss_fixed_p99" "" "over the two-hop floor p50 $added_floor_p50, p99 $added_floor_p99 (target 0.5, 2); over direct $added_p50, $added_p99"
row "platform hit at $rate/s" "" "$hit_fixed_p50" "$hit_fixed_p99" "" ""
row "time to first token, added" "" "$ttft_floor_p50" "$ttft_floor_p99" "" "over the two-hop floor (target p99 <= 1); over direct $ttft_p50, $ttft_p99"
echo
echo "overhead header / added latency (p50): $overhead_ratio (target 0.8-1.2)"
held_line
echo "RSS MB idle: api $api_idle, router $router_idle (target <= 120, <= 90); after the throughput runs: api $api_loaded, router $router_loaded, redis $redis_loaded"
echo "Redis CPU per request ($([ "$cluster" = 1 ] && echo "6-node cluster" || echo "one node")): miss ${miss_redis_us} us (busiest node ${miss_busiest_us}), hit ${hit_redis_us} us (busiest node ${hit_busiest_us})"
per_request_table

mkdir -p bench/results
result=bench/results/latest.json
[ "$smoke" = 1 ] && result="$work/smoke.json"
cat > "$result" <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "durationSeconds": $duration,
  "connections": $connections,
  "throughput": {
    "direct": { "rps": $direct_rps, "p50Ms": $direct_p50, "p99Ms": $direct_p99, "machineCpuUs": $direct_machine_us },
    "floor": { "rps": $floor_rps, "p50Ms": $floor_p50, "p99Ms": $floor_p99, "floorCpuUs": $floor_hop_us, "machineCpuUs": $floor_machine_us },
    "twoHopFloor": { "rps": $floor2_rps, "p50Ms": $floor2_p50, "p99Ms": $floor2_p99, "ratioToFloor": $floor2_ratio, "floorsCpuUs": $floor2_hops_us, "machineCpuUs": $floor2_machine_us },
    "missPath": { "rps": $miss_rps, "p50Ms": $miss_p50, "p99Ms": $miss_p99, "ratioToFloor": $miss_ratio, "ratioToTwoHopFloor": $miss_two_hop_ratio,
      "perRequest": { "apiCpuUs": $miss_api_us, "routerCpuUs": $miss_router_us, "redisCpuUs": $miss_redis_us, "busiestRedisCpuUs": $miss_busiest_us,
        "redisCommands": $miss_commands, "redisScripts": $miss_scripts, "apiAllocatedBytes": $miss_api_bytes, "routerAllocatedBytes": $miss_router_bytes,
        "machineCpuUs": $miss_machine_us } },
    "cacheHit": { "rps": $hit_rps, "p50Ms": $hit_p50, "p99Ms": $hit_p99, "ratioToFloor": $hit_ratio,
      "perRequest": { "apiCpuUs": $hit_api_us, "routerCpuUs": $hit_router_us, "redisCpuUs": $hit_redis_us, "busiestRedisCpuUs": $hit_busiest_us,
        "redisCommands": $hit_commands, "redisScripts": $hit_scripts, "apiAllocatedBytes": $hit_api_bytes, "routerAllocatedBytes": $hit_router_bytes,
        "machineCpuUs": $hit_machine_us } }
  },
  "redisCluster": $([ "$cluster" = 1 ] && echo true || echo false),
  "fixedRate": {
    "requestsPerSecond": $rate,
    "direct": { "p50Ms": $direct_fixed_p50, "p99Ms": $direct_fixed_p99 },
    "floor": { "p50Ms": $floor_fixed_p50, "p99Ms": $floor_fixed_p99 },
    "twoHopFloor": { "p50Ms": $floor2_fixed_p50, "p99Ms": $floor2_fixed_p99 },
    "missPath": { "p50Ms": $miss_fixed_p50, "p99Ms": $miss_fixed_p99, "addedP50Ms": $added_p50, "addedP99Ms": $added_p99,
      "addedOverTwoHopFloorP50Ms": $added_floor_p50, "addedOverTwoHopFloorP99Ms": $added_floor_p99 },
    "cacheHit": { "p50Ms": $hit_fixed_p50, "p99Ms": $hit_fixed_p99 }
  },
  "timeToFirstToken": $ttft,
  "overhead": $overhead,
  "streams": { "held": $held, "apiMbBefore": $api_before, "routerMbBefore": $router_before, "apiMbHeld": $api_held, "routerMbHeld": $router_held, "kbPerStream": $per_stream_kb, "twoHopFloorKbPerStream": $floor_per_stream_kb },
  "rssMb": { "apiIdle": $api_idle, "routerIdle": $router_idle, "apiLoaded": $api_loaded, "routerLoaded": $router_loaded, "redisLoaded": $redis_loaded }
}
JSON
echo "Wrote $result"
