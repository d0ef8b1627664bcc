#!/usr/bin/env bash
# The gateway benchmark: direct upstream, the floor (bench/AgentPlatform.Bench.Floor) and the platform
# (Api + Router + Redis, Release build, production settings) against the same static nginx upstream,
# measured with wrk in one run. Prints a table and writes bench/results/latest.json.
#
#   bench/run.sh              # 10 s per scenario
#   bench/run.sh --duration 30
#   bench/run.sh --smoke      # 2 s per scenario, to check the harness works
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
# Long enough for tiered compilation with dynamic PGO to settle: with 3 s the JIT still took a tenth of
# the CPU during the measurement and every .NET figure came out 30-60% low.
warmup=10
connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --smoke) duration=2; warmup=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

missing=()
for tool in nginx wrk redis-server; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
# Debian's package for the redis-server binary is called redis-server too.
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
upstream_port=$(free_port); floor_port=$(free_port); router_port=$(free_port); api_port=$(free_port); redis_port=$(free_port)
master_key="bench-master-key-0123456789abcdef"

echo "Building (Release)..."
dotnet build -c Release -v quiet -nologo AgentPlatform.Api/AgentPlatform.Api.csproj >/dev/null
dotnet build -c Release -v quiet -nologo AgentPlatform.Router/AgentPlatform.Router.csproj >/dev/null
dotnet build -c Release -v quiet -nologo bench/AgentPlatform.Bench.Floor/AgentPlatform.Bench.Floor.csproj >/dev/null

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

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!); redis_pid=$!

ASPNETCORE_URLS="http://127.0.0.1:$floor_port" Upstream="http://127.0.0.1:$upstream_port/v1/chat/completions" \
  dotnet bench/AgentPlatform.Bench.Floor/bin/Release/net10.0/AgentPlatform.Bench.Floor.dll >"$work/floor.log" 2>&1 &
pids+=($!); floor_pid=$!

# Production settings: each service's own appsettings.json (content root = its output folder).
export ASPNETCORE_ENVIRONMENT=Production ConnectionStrings__cache="127.0.0.1:$redis_port"
env ASPNETCORE_URLS="http://127.0.0.1:$router_port" \
  Router__ModelGroups__bench__Deployments__0__Name=nginx \
  Router__ModelGroups__bench__Deployments__0__BaseUrl="http://127.0.0.1:$upstream_port/v1" \
  Router__ModelGroups__bench__Deployments__0__Model=bench-model \
  Router__ModelGroups__bench-cached__Deployments__0__Name=nginx \
  Router__ModelGroups__bench-cached__Deployments__0__BaseUrl="http://127.0.0.1:$upstream_port/v1" \
  Router__ModelGroups__bench-cached__Deployments__0__Model=bench-model \
  dotnet AgentPlatform.Router/bin/Release/net10.0/AgentPlatform.Router.dll --contentRoot "$PWD/AgentPlatform.Router/bin/Release/net10.0" >"$work/router.log" 2>&1 &
pids+=($!); router_pid=$!
ASPNETCORE_URLS="http://127.0.0.1:$api_port" services__router__http__0="http://127.0.0.1:$router_port" \
  AgentPlatform__MasterKey="$master_key" Cache__Enabled=true Cache__ModelGroups__bench__Enabled=false \
  dotnet AgentPlatform.Api/bin/Release/net10.0/AgentPlatform.Api.dll --contentRoot "$PWD/AgentPlatform.Api/bin/Release/net10.0" >"$work/api.log" 2>&1 &
pids+=($!); api_pid=$!

wait_ready() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "not ready: $1" >&2; cat "$work"/*.log >&2; exit 1; }
wait_ready "http://127.0.0.1:$api_port/health"
wait_ready "http://127.0.0.1:$router_port/health"

# The miss path calls group "bench" (its cache turned off); the cache hit path calls "bench-cached".
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"bench","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say something about gateways."}],"max_tokens":64}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $master_key"
LUA

sed 's/"model":"bench"/"model":"bench-cached"/' "$work/post.lua" > "$work/hit.lua"

# One scenario: warm up, then measure. Prints "rps p50_ms p99_ms".
measure() {
  local url=$1 script=${2:-$work/post.lua}
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $master_key" \
    -d '{"model":"bench","messages":[{"role":"user","content":"hi"}]}' "$url")
  [ "$status" = 200 ] || { echo "$url answered $status" >&2; exit 1; }
  wrk -t2 -c"$connections" -d"${warmup}s" -s "$script" "$url" >/dev/null
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$script" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50.000%" || $1 == "50%" { p50 = ms($2) }
    $1 == "99.000%" || $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses/ { errors = $NF }
    END { if (errors > 0) { print "non-2xx responses: " errors > "/dev/stderr"; exit 1 } printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# The hit scenario must hit: its second identical call is answered from the cache.
hit_body=$(sed -n "s/^wrk.body = '\(.*\)'\$/\1/p" "$work/hit.lua")
for _ in 1 2; do
  cache=$(curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $master_key" \
    -d "$hit_body" "http://127.0.0.1:$api_port/v1/chat/completions" | awk 'tolower($1) == "x-agentplatform-cache:" { print $2 }' | tr -d '\r')
done
[ "$cache" = hit ] || { echo "the cache hit scenario does not hit (x-agentplatform-cache: $cache)" >&2; exit 1; }

echo "Measuring ${duration}s per scenario, $connections connections..."
read -r direct_rps direct_p50 direct_p99 < <(measure "http://127.0.0.1:$upstream_port/v1/chat/completions")
read -r floor_rps floor_p50 floor_p99 < <(measure "http://127.0.0.1:$floor_port/v1/chat/completions")
read -r platform_rps platform_p50 platform_p99 < <(measure "http://127.0.0.1:$api_port/v1/chat/completions")
read -r hit_rps hit_p50 hit_p99 < <(measure "http://127.0.0.1:$api_port/v1/chat/completions" "$work/hit.lua")
floor_rss=$(rss_mb "$floor_pid"); api_rss=$(rss_mb "$api_pid"); router_rss=$(rss_mb "$router_pid"); redis_rss=$(rss_mb "$redis_pid")
ratio=$(awk -v p="$platform_rps" -v f="$floor_rps" 'BEGIN { printf "%.2f", p / f }')
hit_ratio=$(awk -v p="$hit_rps" -v f="$floor_rps" 'BEGIN { printf "%.2f", p / f }')

printf '\n%-22s %10s %9s %9s %14s %s\n' scenario "req/s" "p50 ms" "p99 ms" "vs floor" "RSS MB"
printf '%-22s %10s %9s %9s %14s %s\n' "direct (nginx)" "$direct_rps" "$direct_p50" "$direct_p99" "" ""
printf '%-22s %10s %9s %9s %14s %s\n' "floor" "$floor_rps" "$floor_p50" "$floor_p99" "1.00" "$floor_rss"
printf '%-22s %10s %9s %9s %14s %s\n' "platform (miss path)" "$platform_rps" "$platform_p50" "$platform_p99" "$ratio" "api $api_rss + router $router_rss + redis $redis_rss"
printf '%-22s %10s %9s %9s %14s %s\n' "platform (cache hit)" "$hit_rps" "$hit_p50" "$hit_p99" "$hit_ratio" ""

mkdir -p bench/results
cat > bench/results/latest.json <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "durationSeconds": $duration,
  "connections": $connections,
  "scenarios": {
    "direct": { "rps": $direct_rps, "p50Ms": $direct_p50, "p99Ms": $direct_p99 },
    "floor": { "rps": $floor_rps, "p50Ms": $floor_p50, "p99Ms": $floor_p99, "rssMb": $floor_rss },
    "platform": { "rps": $platform_rps, "p50Ms": $platform_p50, "p99Ms": $platform_p99, "ratioToFloor": $ratio,
                  "rssMb": { "api": $api_rss, "router": $router_rss, "redis": $redis_rss } },
    "cacheHit": { "rps": $hit_rps, "p50Ms": $hit_p50, "p99Ms": $hit_p99, "ratioToFloor": $hit_ratio }
  }
}
JSON
echo "Wrote bench/results/latest.json"
