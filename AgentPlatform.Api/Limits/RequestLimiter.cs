using System.Collections.Concurrent;
using System.Globalization;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;
using StackExchange.Redis;
using TenancyLimits = AgentPlatform.Api.Tenancy.Limits;

namespace AgentPlatform.Api.Limits;

/// <summary>A request's (or a step's) place in its limits: its lease, or the refusal the client is answered with.</summary>
public readonly record struct Reservation(RequestLease? Lease, OpenAIErrorResult? Refusal)
{
    /// <summary>Why an agent run stops when its step is refused: <c>budget_exceeded</c>, <c>limits_unavailable</c> or <c>rate_limited</c>.</summary>
    public string? StopReason => Refusal?.Code switch
    {
        null => null,
        "budget_exceeded" or LimitsUnavailable => Refusal.Code,
        _ => "rate_limited",
    };

    internal const string LimitsUnavailable = "limits_unavailable";
}

/// <summary>What a request takes out of its limits before it is sent: its token estimate and its worst-case cost.</summary>
/// <param name="Tokens">Estimated prompt tokens plus the most it may generate.</param>
/// <param name="CostNanoUsd">The worst-case cost, in nano-dollars (see <see cref="BudgetPeriod.ToNanoUsd"/>).</param>
public readonly record struct Demand(long Tokens, long CostNanoUsd);

/// <summary>
/// A request's reservation made ready — its keys and the reserve script's arguments — for the limiter to
/// run, or for another stage to run inside its own script in the same round trip (the cache's lookup, on
/// one Redis node: <see cref="RequestLimiter.ReserveFunction"/>); <see cref="RequestLimiter.Conclude"/>
/// reads the result either way.
/// </summary>
public sealed class PreparedReservation(LimitKeys keys, RedisValue[] arguments, string member, Demand demand, bool momentary, DateTimeOffset now)
{
    public LimitKeys Keys => keys;

    /// <summary>The reserve script's ARGV.</summary>
    public RedisValue[] Arguments => arguments;

    internal string Member => member;

    internal Demand Demand => demand;

    internal bool Momentary => momentary;

    /// <summary>The time the script is given as now.</summary>
    internal DateTimeOffset Now => now;
}

/// <summary>
/// Requests per minute, tokens per minute, concurrent requests and budgets, for a key and its tenant
/// together, in one atomic Redis script per request, and one more when it ends to replace the
/// reservation with what was used — exact across any number of Api replicas.
/// </summary>
/// <remarks>
/// Requests and tokens per minute use a sliding log (a sorted set of the last minute's requests, with
/// each one's tokens beside it and their running total) rather than GCRA or a fixed window: it is the
/// only one of the three that lets exactly N requests, or N tokens, through in any 60 seconds — GCRA
/// refills during a burst and lets up to twice the limit through in a minute, a fixed window twice as
/// many across its boundary — and its cost, O(log N) per request, is small for the limits keys carry.
/// Its oldest entries also give the exact <c>Retry-After</c>. Concurrency is a sorted set of leases
/// scored by their expiry, so the slot of a replica that died comes back by itself. A budget is the
/// period's spend in whole nano-dollars: the worst case is added before the call and corrected after,
/// so concurrent requests can never together spend past it. A request under a budget holds a lease too,
/// whether or not concurrency is limited: its correction is made only while the lease is known, so a
/// reservation lost in a failover is not refunded where it was never added.
/// </remarks>
public sealed class RequestLimiter(IConnectionMultiplexer redis, UsageMetrics metrics, TimeProvider timeProvider, ILogger<RequestLimiter> logger)
{
    /// <summary>
    /// How long a concurrency slot is held without word from its request: renewed while the request (a
    /// stream, an agent run) lives and ended explicitly when it ends, so this is only how soon a slot
    /// comes back from a replica that died holding it.
    /// </summary>
    internal static readonly TimeSpan LeaseLifetime = TimeSpan.FromMinutes(15);

    /// <summary>How long a finished period's spend stays readable after it ends.</summary>
    private static readonly TimeSpan SpendKeptAfterPeriod = TimeSpan.FromDays(35);

    /// <summary>
    /// The reserve script's body: KEYS and ARGV are the limits' own (<see cref="PreparedReservation"/>).
    /// <see cref="ReserveFunction"/> wraps it for scripts that reserve as one of their steps.
    /// </summary>
    private const string ReserveScript = """
        local now, member, lease_ms = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
        local tokens, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
        -- ARGV[16] '1': a step of a request already admitted (an agent run's model call): its tokens and cost
        -- join the request's member, which moves to now; it is not another request nor another concurrent one.
        -- '2': a request over at once (a cache hit): it needs a free concurrency slot but does not hold one
        local step, holds = ARGV[16] == '1', ARGV[16] == '0'
        local window = 60000
        -- scope s (0 the key, 1 its tenant): KEYS[s*4+1] the last minute's requests by time, KEYS[s*4+2] their
        -- tokens (and their 'total'), KEYS[s*4+3] concurrency leases, KEYS[s*4+4] the period's spend (nano-USD);
        -- ARGV[6+s*5]..: rpm, tpm, max concurrent (0: none), budget (nano-USD, -1: none), spend TTL (s, 0: none)
        local state = {}
        for s = 0, 1 do
          local log, amounts, leases, spend = KEYS[s*4+1], KEYS[s*4+2], KEYS[s*4+3], KEYS[s*4+4]
          local a = 6 + s * 5
          local rpm, tpm, concurrent, budget = tonumber(ARGV[a]), tonumber(ARGV[a+1]), tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
          local requests, used, reset, spent = 0, 0, 0, 0
          if rpm > 0 or tpm > 0 then
            while true do
              local expired = redis.call('ZRANGEBYSCORE', log, '-inf', now - window, 'LIMIT', 0, 500)
              if #expired == 0 then break end
              local freed = 0
              for _, amount in ipairs(redis.call('HMGET', amounts, unpack(expired))) do freed = freed + (tonumber(amount) or 0) end
              redis.call('HDEL', amounts, unpack(expired))
              redis.call('ZREM', log, unpack(expired))
              -- never with 0: Lua writes -0 as "-0", which HINCRBY refuses (requests of an rpm-only key reserve no tokens)
              if freed ~= 0 then redis.call('HINCRBY', amounts, 'total', -freed) end
              if #expired < 500 then break end
            end
            requests = redis.call('ZCARD', log)
            if tpm > 0 then used = tonumber(redis.call('HGET', amounts, 'total') or '0') end
            local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
            -- at most the window: the oldest entry may carry another replica's slightly later clock
            if oldest[2] then reset = math.min(window, tonumber(oldest[2]) + window - now) end
            if rpm > 0 and requests >= rpm and not step then return {1, s, reset} end
            if tpm > 0 and used + tokens > tpm then
              if tokens > tpm then return {3, s, 0} end
              -- the wait: until enough of the oldest reservations have left the window
              local need, wait, from = used + tokens - tpm, window, 0
              while need > 0 do
                local entries = redis.call('ZRANGE', log, from, from + 99, 'WITHSCORES')
                if #entries == 0 then break end
                for i = 1, #entries, 2 do
                  need = need - (tonumber(redis.call('HGET', amounts, entries[i])) or 0)
                  if need <= 0 then wait = math.min(window, tonumber(entries[i + 1]) + window - now) break end
                end
                from = from + 100
              end
              return {2, s, wait}
            end
          end
          if concurrent > 0 and not step then
            redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
            if redis.call('ZCARD', leases) >= concurrent then return {4, s, 1000} end
          end
          if budget >= 0 then
            spent = tonumber(redis.call('GET', spend) or '0')
            if spent + cost > budget then return {5, s, spent} end
          end
          state[s*4+1], state[s*4+2], state[s*4+3], state[s*4+4] = requests, used, reset, spent
        end
        for s = 0, 1 do
          local a = 6 + s * 5
          if tonumber(ARGV[a]) > 0 or tonumber(ARGV[a+1]) > 0 then
            redis.call('ZADD', KEYS[s*4+1], now, member)
            -- a request of no tokens (an rpm-only key's, a cache hit's) has none to keep: a missing amount counts as 0
            if tokens ~= 0 then
              if step then redis.call('HINCRBY', KEYS[s*4+2], member, tokens) else redis.call('HSET', KEYS[s*4+2], member, tokens) end
              redis.call('HINCRBY', KEYS[s*4+2], 'total', tokens)
            end
            redis.call('PEXPIRE', KEYS[s*4+1], window)
            redis.call('PEXPIRE', KEYS[s*4+2], window)
          end
          -- a lease for a concurrency slot, and for a budget: the settlement corrects a spend only when its
          -- reservation is known there (a failover can lose the reservation and keep the settlement)
          if (tonumber(ARGV[a+2]) > 0 or tonumber(ARGV[a+3]) >= 0) and holds then
            -- (with a concurrency limit, expired leases were swept above)
            if tonumber(ARGV[a+2]) == 0 then redis.call('ZREMRANGEBYSCORE', KEYS[s*4+3], '-inf', now) end
            redis.call('ZADD', KEYS[s*4+3], now + lease_ms, member)
            redis.call('PEXPIRE', KEYS[s*4+3], lease_ms)
          end
          if tonumber(ARGV[a+3]) >= 0 and cost ~= 0 then
            redis.call('INCRBY', KEYS[s*4+4], cost)
            if tonumber(ARGV[a+4]) > 0 then redis.call('EXPIRE', KEYS[s*4+4], ARGV[a+4]) end
          end
        end
        return {0, 0, 0, state[1], state[2], state[3], state[4], state[5], state[6], state[7], state[8]}
        """;

    /// <summary>
    /// The reserve script as a Lua function <c>reserve(KEYS, ARGV)</c> — its parameters shadow the globals —
    /// for another script to call with the limits' keys and arguments (in the same slot: on one Redis node).
    /// </summary>
    internal const string ReserveFunction = "local function reserve(KEYS, ARGV)\n" + ReserveScript + "\nend\n";

    /// <summary>Per key and tenant id (their prefixes keep them apart): until when (Unix ms) their requests per minute are used up, as Redis last said.</summary>
    private readonly ConcurrentDictionary<string, long> _requestsFullUntil = new(StringComparer.Ordinal);

    /// <summary>Per key and tenant id with a concurrency limit: the slots this replica's requests hold.</summary>
    private readonly ConcurrentDictionary<string, int> _slotsHeldHere = new(StringComparer.Ordinal);

    /// <summary>
    /// Refuses, before its body is read and sized, a request its limits refuse whatever it asks — so a
    /// throttled client cannot make the Api read, parse and tokenize its bodies: its requests per minute
    /// are used up (until the Retry-After Redis gave this replica at its last refusal, which holds for any
    /// request: refused ones do not enter the window), or this replica alone holds all its concurrency
    /// slots. Decided here, without a round trip; the full check in Redis follows for the rest.
    /// </summary>
    public OpenAIErrorResult? RefusedBeforeBody(ClientIdentity client)
    {
        if (client is not { Key: { } key, Tenant: { } tenant } || !client.IsLimited)
        {
            return null;
        }
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (limits, id, scope) in (ReadOnlySpan<(TenancyLimits, string, string)>)[(key, key.Id, "key"), (tenant, tenant.Id, "tenant")])
        {
            if (limits.Rpm is not null && _requestsFullUntil.TryGetValue(id, out var until))
            {
                if (until > now)
                {
                    metrics.Refused(LimitName(1), scope);
                    return Refusal(1, limits, until - now, default);
                }
                _requestsFullUntil.TryRemove(KeyValuePair.Create(id, until));
            }
            if (limits.MaxConcurrent is { } max && _slotsHeldHere.TryGetValue(id, out var held) && held >= max)
            {
                metrics.Refused(LimitName(4), scope);
                return Refusal(4, limits, 1000, default);
            }
        }
        return null;
    }

    private void HoldSlotHere(TenancyLimits limits, string id, int change)
    {
        if (limits.MaxConcurrent is not null)
        {
            _slotsHeldHere.AddOrUpdate(id, Math.Max(0, change), (_, held) => Math.Max(0, held + change));
        }
    }

    /// <summary>
    /// Takes a request out of the key's and tenant's limits and budgets: a lease to settle when the request
    /// ends, or the refusal (429, or 402 for a budget, naming the limit) when one of them refuses. OpenAI's
    /// <c>x-ratelimit-*</c> headers are set on <paramref name="headers"/>, or carried by the refusal. A
    /// <paramref name="momentary"/> request (a cache hit, answered at once) needs a free concurrency slot
    /// but holds none, so its lease has nothing to settle and the hit pays one round trip, not two.
    /// </summary>
    public async ValueTask<Reservation> AcquireAsync(ClientIdentity client, Demand demand, IHeaderDictionary headers, bool momentary = false)
    {
        if (Prepare(client, demand, momentary) is not { } prepared)
        {
            return new(RequestLease.None, null);
        }
        RedisResult[] result;
        try
        {
            result = await ReserveAsync(prepared.Keys, prepared.Arguments);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // Limits cannot be checked: refuse rather than let a limited key through unlimited.
            Log.LimitsUnavailable(logger, exception);
            return new(null, Unavailable);
        }
        return Conclude(client, prepared, result, headers);
    }

    /// <summary>The reservation <see cref="AcquireAsync"/> would make, ready to run; null for a client without limits.</summary>
    public PreparedReservation? Prepare(ClientIdentity client, Demand demand, bool momentary = false)
    {
        if (client is not { Key: { } key, Tenant: { } tenant } || !client.IsLimited)
        {
            return null;
        }
        var now = timeProvider.GetUtcNow();
        var member = Guid.NewGuid().ToString("N");
        var keys = LimitKeys.Of(key, tenant, now);
        return new PreparedReservation(keys, Arguments(key, tenant, keys, member, demand, momentary ? Momentary : Request, now), member, demand, momentary, now);
    }

    /// <summary>The request's lease, or its refusal, from the reserve script's result (run here or inside another stage's script).</summary>
    public Reservation Conclude(ClientIdentity client, PreparedReservation prepared, RedisResult[] result, IHeaderDictionary headers)
    {
        var (key, tenant) = (client.Key!, client.Tenant!);
        var (keys, member, demand) = (prepared.Keys, prepared.Member, prepared.Demand);
        var refused = (int)result[0];
        if (refused == 0)
        {
            SetHeaders(headers, key, tenant, result, demand);
            if (prepared.Momentary)
            {
                return new(RequestLease.None, null); // nothing to settle, no slot to give back
            }
            var lease = new RequestLease(redis, keys, member, demand,
                RateLimited(key), key.BudgetUsd is not null, RateLimited(tenant), tenant.BudgetUsd is not null,
                holdsSlot: key.MaxConcurrent is not null || tenant.MaxConcurrent is not null || key.BudgetUsd is not null || tenant.BudgetUsd is not null, logger);
            if (lease.HoldsSlot)
            {
                HoldSlotHere(key, key.Id, +1);
                HoldSlotHere(tenant, tenant.Id, +1);
                lease.Released = () =>
                {
                    HoldSlotHere(key, key.Id, -1);
                    HoldSlotHere(tenant, tenant.Id, -1);
                };
                lease.RenewSlotWhileHeld(timeProvider, LeaseLifetime);
            }
            return new(lease, null);
        }
        var byKey = (int)result[1] == 0;
        if (refused == 1)
        {
            // Full until the window's oldest request leaves it: every request until then is refused alike.
            _requestsFullUntil[byKey ? key.Id : tenant.Id] = prepared.Now.ToUnixTimeMilliseconds() + (long)result[2];
        }
        metrics.Refused(LimitName(refused), byKey ? "key" : "tenant");
        return new(null, Refusal(refused, byKey ? key : tenant, (long)result[2], demand));
    }

    private static readonly OpenAIErrorResult Unavailable = OpenAIErrorResult.Unavailable(
        "Rate limits and budgets cannot be checked right now; try again shortly.", Reservation.LimitsUnavailable);

    /// <summary>
    /// Takes one step of an admitted request — an agent run's model call — out of the key's and tenant's
    /// tokens per minute and budgets: not another request, nor another concurrent one (the run counts
    /// once for those). Its tokens join the run's entry in the last minute's log, which moves to now.
    /// </summary>
    public async ValueTask<Reservation> ReserveStepAsync(ClientIdentity client, RequestLease request, Demand demand)
    {
        if (client is not { Key: { } key, Tenant: { } tenant } || request.Keys is not { } keys)
        {
            return new(RequestLease.None, null);
        }
        RedisResult[] result;
        try
        {
            result = await ReserveAsync(keys, Arguments(key, tenant, keys, request.Member, demand, Step, timeProvider.GetUtcNow()));
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.LimitsUnavailable(logger, exception);
            return new(null, Unavailable);
        }
        var refused = (int)result[0];
        if (refused == 0)
        {
            return new(new RequestLease(redis, keys, request.Member, demand,
                RateLimited(key), key.BudgetUsd is not null, RateLimited(tenant), tenant.BudgetUsd is not null, holdsSlot: false, logger), null);
        }
        var byKey = (int)result[1] == 0;
        metrics.Refused(LimitName(refused), byKey ? "key" : "tenant");
        return new(null, Refusal(refused, byKey ? key : tenant, (long)result[2], demand));
    }

    /// <summary>The reserve script's kinds of reservation (its ARGV[16]).</summary>
    private const int Request = 0, Step = 1, Momentary = 2;

    private async Task<RedisResult[]> ReserveAsync(LimitKeys keys, RedisValue[] arguments) =>
        (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys.Keys, arguments))!;

    private static RedisValue[] Arguments(VirtualKey key, Tenant tenant, LimitKeys keys, string member, Demand demand, int kind, DateTimeOffset now) =>
    [
        now.ToUnixTimeMilliseconds(), member, (long)LeaseLifetime.TotalMilliseconds, demand.Tokens, demand.CostNanoUsd,
        key.Rpm ?? 0, key.Tpm ?? 0, key.MaxConcurrent ?? 0, Budget(key), SpendTtlSeconds(keys.KeyPeriodEnd, now),
        tenant.Rpm ?? 0, tenant.Tpm ?? 0, tenant.MaxConcurrent ?? 0, Budget(tenant), SpendTtlSeconds(keys.TenantPeriodEnd, now),
        kind,
    ];

    private static string LimitName(int refused) =>
        refused switch { 1 => "requests", 2 => "tokens", 3 => "too_large", 4 => "concurrency", _ => "budget" };

    private static bool RateLimited(TenancyLimits limits) => limits.Rpm is not null || limits.Tpm is not null;

    /// <summary>The reserve script's budget argument: nano-dollars, or -1 for none.</summary>
    private static long Budget(TenancyLimits limits) => limits.BudgetUsd is { } budget ? BudgetPeriod.ToNanoUsd(budget) : -1;

    /// <summary>How long a period's spend is kept: until a while after the period ends (0: a budget for all time, kept).</summary>
    private static long SpendTtlSeconds(DateTimeOffset? periodEnd, DateTimeOffset now) =>
        periodEnd is { } end ? (long)(end - now + SpendKeptAfterPeriod).TotalSeconds : 0;

    /// <summary>The answer to a refused request: the limit named, with OpenAI's <c>x-ratelimit-*</c> headers and <c>Retry-After</c>.</summary>
    private static OpenAIErrorResult Refusal(int refused, TenancyLimits limits, long value, Demand demand)
    {
        var headers = new List<KeyValuePair<string, string>>(4);
        var unit = refused switch { 1 => "requests", 2 => "tokens", _ => null };
        if (unit is not null)
        {
            headers.Add(new($"x-ratelimit-limit-{unit}", (refused == 1 ? limits.Rpm : limits.Tpm)!.Value.ToString(CultureInfo.InvariantCulture)));
            headers.Add(new($"x-ratelimit-remaining-{unit}", "0"));
            headers.Add(new($"x-ratelimit-reset-{unit}", Duration(value)));
        }
        var (status, message, type, code, param) = Describe(refused, limits, value, demand);
        if (status == StatusCodes.Status429TooManyRequests)
        {
            headers.Add(new(RetryAfterHeader.Name, RetryAfterHeader.Seconds(TimeSpan.FromMilliseconds(value))));
        }
        return new OpenAIErrorResult(status, message, type, code, param) { Headers = headers };
    }

    /// <summary>What a refusal says (status, message, OpenAI error type and code), for a request's answer or a run's status.</summary>
    private static (int Status, string Message, string Type, string Code, string? Param) Describe(int refused, TenancyLimits limits, long value, Demand demand)
    {
        var owner = limits is VirtualKey ? $"key '{limits.Name}'" : $"tenant '{limits.Name}'";
        const int TooMany = StatusCodes.Status429TooManyRequests;
        switch (refused)
        {
            case 1:
                return (TooMany, $"Rate limit reached for {owner}: {limits.Rpm} requests per minute. Try again in {Duration(value)}.", OpenAIError.RateLimit, "rate_limit_exceeded", null);
            case 2:
                return (TooMany, $"Rate limit reached for {owner}: {limits.Tpm} tokens per minute (this request reserves {demand.Tokens}: its prompt and max_tokens). Try again in {Duration(value)}.",
                    OpenAIError.RateLimit, "rate_limit_exceeded", null);
            case 3:
                return (StatusCodes.Status400BadRequest,
                    $"Request too large for {owner}: it reserves {demand.Tokens} tokens (its prompt and max_tokens), more than the limit of {limits.Tpm} tokens per minute. Lower max_tokens or shorten the prompt.",
                    OpenAIError.InvalidRequest, "request_too_large_for_limit", "max_tokens");
            case 4:
                return (TooMany, $"Rate limit reached for {owner}: {limits.MaxConcurrent} concurrent requests. Try again in {Duration(value)}.", OpenAIError.RateLimit, "rate_limit_exceeded", null);
            default:
                var spent = BudgetPeriod.FromNanoUsd(value);
                var thisPeriod = limits.BudgetPeriod == BudgetPeriods.None ? "" : $" this {PeriodName(limits.BudgetPeriod)}";
                return (StatusCodes.Status402PaymentRequired,
                    string.Create(CultureInfo.InvariantCulture,
                        $"Budget exhausted for {owner}: ${spent:0.######} of ${limits.BudgetUsd:0.######} spent{thisPeriod}, and this request may cost up to ${BudgetPeriod.FromNanoUsd(demand.CostNanoUsd):0.######}."),
                    OpenAIError.InsufficientQuota, "budget_exceeded", null);
        }
    }

    private static string PeriodName(string period) => period switch
    {
        BudgetPeriods.Daily => "day",
        BudgetPeriods.Weekly => "week",
        _ => "month",
    };

    /// <summary>OpenAI's headers for the tighter of the key's and the tenant's limits, after this request's reservation.</summary>
    private static void SetHeaders(IHeaderDictionary headers, VirtualKey key, Tenant tenant, RedisResult[] result, Demand demand)
    {
        // result[3..6]: the key's requests, tokens, reset (ms) and spend; result[7..10]: the tenant's.
        SetTrio(headers, RequestsHeaders, key.Rpm, (long)result[3] + 1, tenant.Rpm, (long)result[7] + 1, (long)result[5], (long)result[9]);
        SetTrio(headers, TokensHeaders, key.Tpm, (long)result[4] + demand.Tokens, tenant.Tpm, (long)result[8] + demand.Tokens, (long)result[5], (long)result[9]);
    }

    private static readonly (string Limit, string Remaining, string Reset)
        RequestsHeaders = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        TokensHeaders = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens");

    private static void SetTrio(IHeaderDictionary headers, (string Limit, string Remaining, string Reset) names, int? keyLimit, long keyUsed, int? tenantLimit, long tenantUsed, long keyResetMs, long tenantResetMs)
    {
        var keyRemaining = keyLimit is { } k ? k - keyUsed : long.MaxValue;
        var tenantRemaining = tenantLimit is { } t ? t - tenantUsed : long.MaxValue;
        if (keyRemaining == long.MaxValue && tenantRemaining == long.MaxValue)
        {
            return;
        }
        var useKey = keyRemaining <= tenantRemaining;
        headers[names.Limit] = (useKey ? keyLimit : tenantLimit)!.Value.ToString(CultureInfo.InvariantCulture);
        headers[names.Remaining] = Math.Max(0, useKey ? keyRemaining : tenantRemaining).ToString(CultureInfo.InvariantCulture);
        var reset = useKey ? keyResetMs : tenantResetMs;
        headers[names.Reset] = Duration(reset > 0 ? reset : 60_000);
    }

    /// <summary>OpenAI's reset format: <c>1s</c>, <c>6m0s</c>, <c>250ms</c>.</summary>
    internal static string Duration(long milliseconds)
    {
        if (milliseconds < 1000)
        {
            return $"{Math.Max(0, milliseconds)}ms";
        }
        var time = TimeSpan.FromMilliseconds(milliseconds);
        return time.TotalMinutes >= 1
            ? $"{(int)time.TotalMinutes}m{time.Seconds}s"
            : string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:0.###}s");
    }
}

/// <summary>
/// A request's reservation in its key's and tenant's limits: settled to what it really used when it
/// ends, which also gives back its concurrency slot. Disposing an unsettled lease keeps the
/// reservation as spent (the usage is unknown, and overcounting is the safe side) and frees the slot.
/// If Redis cannot be reached to settle, the reservation stays counted (the safe side again) and the
/// slot comes back when its lease expires.
/// </summary>
public sealed class RequestLease(
    IConnectionMultiplexer? redis, LimitKeys? keys, string member, Demand reserved,
    bool keyRate, bool keyBudget, bool tenantRate, bool tenantBudget, bool holdsSlot, ILogger? logger) : IAsyncDisposable
{
    public static readonly RequestLease None = new(null, null, "", default, false, false, false, false, false, null);

    /// <summary>The limits' Redis keys, null for a client without limits.</summary>
    internal LimitKeys? Keys => keys;

    /// <summary>The request's entry in the limits' logs and leases.</summary>
    internal string Member => member;

    private const string SettleScript = """
        -- ARGV[1] the request, ARGV[2] tokens to add (negative: give back), ARGV[3] nano-USD to add;
        -- ARGV[4+s*2] whether scope s counts tokens, ARGV[5+s*2] whether it has a budget; ARGV[8] '1': give back
        -- the request's leases (not for a step of a request, whose leases are the request's)
        for s = 0, 1 do
          if ARGV[4 + s * 2] == '1' and redis.call('ZSCORE', KEYS[s*4+1], ARGV[1]) then
            redis.call('HINCRBY', KEYS[s*4+2], ARGV[1], ARGV[2])
            redis.call('HINCRBY', KEYS[s*4+2], 'total', ARGV[2])
          end
          -- A budget's lease says its reservation is known here: one lost in a failover (acknowledged by a master
          -- that died before its replica had it) is not corrected, or the refund of a worst case never added here
          -- would lower the spend below what was spent (by up to max_tokens' price, per request in flight).
          local known = true
          if ARGV[8] == '1' then known = redis.call('ZREM', KEYS[s*4+3], ARGV[1]) == 1 end
          if ARGV[5 + s * 2] == '1' and known then redis.call('INCRBY', KEYS[s*4+4], ARGV[3]) end
        end
        return 0
        """;

    /// <summary>The settle script as a Lua function <c>settle(KEYS, ARGV)</c>, for another script to run with the limits' keys (one Redis node).</summary>
    internal const string SettleFunction = "local function settle(KEYS, ARGV)\n" + SettleScript + "\nend\n";

    private const string RenewScript = """
        -- KEYS the key's and the tenant's leases; ARGV[1] the request, ARGV[2] its new expiry (ms), ARGV[3] the lifetime (ms)
        for i = 1, #KEYS do
          if redis.call('ZSCORE', KEYS[i], ARGV[1]) then
            redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
            redis.call('PEXPIRE', KEYS[i], ARGV[3])
          end
        end
        return 0
        """;

    private bool _settled;
    private ITimer? _renewal;

    /// <summary>Whether the request holds leases in Redis — a concurrency slot, or a budget's — given back when it is settled.</summary>
    internal bool HoldsSlot => holdsSlot;

    /// <summary>Called once when the slot is given back (settled or disposed), for the limiter's count of slots held here.</summary>
    internal Action? Released { get; set; }

    /// <summary>The latest renewal of the slot (for tests to wait on).</summary>
    internal Task LastRenewal { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Keeps the concurrency slot held while the request lives, however long: a stream or an agent run
    /// may outlast the lease, which would free its slot while it still runs. Renewed at a third of the
    /// lifetime, so a renewal that fails (Redis away) has two more chances before the slot lapses.
    /// </summary>
    internal void RenewSlotWhileHeld(TimeProvider timeProvider, TimeSpan lifetime)
    {
        if (!holdsSlot || redis is null || keys is null)
        {
            return;
        }
        var leases = keys.Leases;
        _renewal = timeProvider.CreateTimer(_ => LastRenewal = RenewAsync(leases, timeProvider, lifetime), null, lifetime / 3, lifetime / 3);
    }

    private async Task RenewAsync(RedisKey[] leases, TimeProvider timeProvider, TimeSpan lifetime)
    {
        try
        {
            await redis!.GetDatabase().ScriptEvaluateAsync(RenewScript, leases,
                [member, (timeProvider.GetUtcNow() + lifetime).ToUnixTimeMilliseconds(), (long)lifetime.TotalMilliseconds]);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.LeaseNotRenewed(logger!, exception);
        }
    }

    /// <summary>Replaces the reservation with what the request used (tokens, and cost in nano-dollars).</summary>
    public async ValueTask SettleAsync(long tokens, long costNanoUsd)
    {
        if (TakeSettlement(tokens, costNanoUsd) is not { } settlement)
        {
            return;
        }
        try
        {
            await redis!.GetDatabase().ScriptEvaluateAsync(SettleScript, settlement.Keys, settlement.Arguments);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            SettleFailed(exception);
        }
    }

    /// <summary>
    /// Settles the lease here and hands over the settle script's keys and arguments, for another script to run
    /// (<see cref="SettleFunction"/>; its failure is <see cref="SettleFailed"/>); null when there is nothing to send.
    /// </summary>
    internal Settlement? TakeSettlement(long tokens, long costNanoUsd)
    {
        if (_settled || redis is null || keys is null)
        {
            return null;
        }
        _settled = true;
        _renewal?.Dispose();
        Released?.Invoke();
        if (tokens == reserved.Tokens && costNanoUsd == reserved.CostNanoUsd && !holdsSlot)
        {
            return null; // nothing to correct and no slot to give back (a cache hit, say): no round trip
        }
        return new Settlement(this, keys.Keys,
        [
            member, tokens - reserved.Tokens, costNanoUsd - reserved.CostNanoUsd,
            keyRate ? 1 : 0, keyBudget ? 1 : 0, tenantRate ? 1 : 0, tenantBudget ? 1 : 0, holdsSlot ? 1 : 0,
        ]);
    }

    /// <summary>The settlement could not be made: the reservation stays counted (the safe side), the slot comes back when its lease expires.</summary>
    internal void SettleFailed(Exception exception) => Log.SettleFailed(logger!, exception);

    public ValueTask DisposeAsync() => SettleAsync(reserved.Tokens, reserved.CostNanoUsd);
}

/// <summary>A lease's settlement, taken to run in another script (<see cref="RequestLease.SettleFunction"/>): the settle script's keys and arguments.</summary>
internal readonly record struct Settlement(RequestLease Lease, RedisKey[] Keys, RedisValue[] Arguments);
