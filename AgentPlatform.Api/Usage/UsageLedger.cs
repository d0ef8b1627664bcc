using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// The usage ledger: every request's <see cref="UsageRecord"/>, kept in Redis by the hour for the
/// configured retention, with hourly and daily roll-ups per tenant, key and model group, and the
/// platform-wide timeline by minute and hour (<see cref="UsageTimeline"/>) the console's overview draws.
/// </summary>
/// <remarks>
/// Requests never wait on Redis for it: a record goes into a bounded in-process spool and a
/// background writer moves it to Redis in pipelined batches. When Redis is unreachable the spool
/// holds the records and the writer retries with backoff until it returns; nothing is dropped — if
/// the spool fills, requests wait for room rather than lose their records (its depth is the metric
/// <c>agentplatform.usage.spool.depth</c>). A batch is written by one Lua script that stores each
/// record under its own id only if absent and adds only those to the roll-ups, so a batch retried
/// after a connection broke mid-way is never counted twice.
/// </remarks>
public sealed class UsageLedger : BackgroundService
{
    /// <summary>
    /// A UTC day's ledger keys (records, request ids, roll-ups and timeline) share one hash slot,
    /// <c>{usage:yyyyMMdd}</c>: a batch is written by one script, which a Redis Cluster runs only on one
    /// slot. So one shard takes a day's ledger writes (batched, a few commands per record), and the next
    /// day's go to another (docs/redis.md).
    /// </summary>
    internal static string DaySlot(DateTimeOffset time) => $"agentplatform:{{usage:{time.UtcDateTime:yyyyMMdd}}}:";

    /// <summary>Records of one hour: a hash of record id to JSON.</summary>
    public static string RecordsKey(DateTimeOffset hour) => $"{DaySlot(hour)}records:{hour.UtcDateTime:yyyyMMddHH}";

    /// <summary>Request ids of one hour's records: a hash of request id to its record ids (space-separated), for looking a request up.</summary>
    public static string RequestIdsKey(DateTimeOffset hour) => $"{DaySlot(hour)}requestids:{hour.UtcDateTime:yyyyMMddHH}";

    public static string HourlyKey(DateTimeOffset hour) => $"{DaySlot(hour)}hourly:{hour.UtcDateTime:yyyyMMddHH}";

    public static string DailyKey(DateTimeOffset day) => $"{DaySlot(day)}daily:{day.UtcDateTime:yyyyMMdd}";

    /// <summary>
    /// Writes a batch of one hour's records in one call: each stored under its id only if absent, and
    /// only those added to the roll-ups, summed per field first so a batch costs one command per record
    /// and a few for the roll-ups (one script per record made the ledger the gateway's bottleneck).
    /// </summary>
    private const string WriteScript = """
        -- KEYS: the hour's records, its roll-up, the day's roll-up, the minute's and the hour's timeline, the
        -- hour's request-id index; ARGV[1] records' and hourly TTL, ARGV[2] daily TTL, ARGV[3] minute timeline
        -- TTL (s); then per record 16 values: id, JSON, roll-up field prefix, requests, errors, prompt, cached
        -- and completion tokens, cost (nano-USD), cache hits, tokens and cost (nano-USD) the hit saved, cache
        -- misses, latency and overhead histogram buckets (-1: none), request id
        local names = {'requests', 'errors', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'cost_nano_usd',
                       'cache_hits', 'saved_tokens', 'saved_cost_nano_usd', 'cache_misses'}
        local sums, fields, timeline, timelineFields, written = {}, {}, {}, {}, 0
        local function add(into, order, field, value)
          if into[field] == nil then into[field] = 0; order[#order + 1] = field end
          into[field] = into[field] + value
        end
        for i = 4, #ARGV, 16 do
          if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
            written = written + 1
            -- the request's record ids, space-separated (an agent run writes several; a client may reuse an id): the first ~30 kept
            local ids = redis.call('HGET', KEYS[6], ARGV[i + 15])
            if not ids then redis.call('HSET', KEYS[6], ARGV[i + 15], ARGV[i])
            elseif #ids < 1000 then redis.call('HSET', KEYS[6], ARGV[i + 15], ids .. ' ' .. ARGV[i]) end
            for m = 1, 10 do
              local value = tonumber(ARGV[i + 2 + m])
              if value ~= 0 then
                if m <= 9 then add(sums, fields, ARGV[i + 2] .. names[m], value) end
                add(timeline, timelineFields, names[m], value)
              end
            end
            if ARGV[i + 13] ~= '-1' then add(timeline, timelineFields, 'lat:' .. ARGV[i + 13], 1) end
            if ARGV[i + 14] ~= '-1' then add(timeline, timelineFields, 'ovh:' .. ARGV[i + 14], 1) end
          end
        end
        redis.call('EXPIRE', KEYS[1], ARGV[1])
        for _, field in ipairs(fields) do
          redis.call('HINCRBY', KEYS[2], field, sums[field])
          redis.call('HINCRBY', KEYS[3], field, sums[field])
        end
        for _, field in ipairs(timelineFields) do
          redis.call('HINCRBY', KEYS[4], field, timeline[field])
          redis.call('HINCRBY', KEYS[5], field, timeline[field])
        end
        redis.call('EXPIRE', KEYS[2], ARGV[1])
        redis.call('EXPIRE', KEYS[3], ARGV[2])
        redis.call('EXPIRE', KEYS[4], ARGV[3])
        redis.call('EXPIRE', KEYS[5], ARGV[1])
        redis.call('EXPIRE', KEYS[6], ARGV[1])
        return written
        """;

    /// <summary>Values per record in <see cref="WriteScript"/>'s arguments.</summary>
    private const int ValuesPerRecord = 16;

    /// <summary>Records per write: 150 keep the argument array (32 bytes a value) under the large object heap's 85 KB.</summary>
    internal const int BatchSize = 150;

    /// <summary>How long a record may wait for others to share its write: the ledger trails requests by at most this.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<UsageLedger> _logger;
    private readonly Channel<UsageRecord> _spool;
    private readonly long _recordTtlSeconds;
    private readonly long _dailyTtlSeconds;
    private int _writing;

    private readonly TimeProvider _timeProvider;

    public UsageLedger(IConnectionMultiplexer redis, IOptions<ApiOptions> options, IMeterFactory meterFactory, TimeProvider timeProvider, ILogger<UsageLedger> logger)
    {
        _timeProvider = timeProvider;
        _redis = redis;
        _logger = logger;
        _spool = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(options.Value.UsageSpoolCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _recordTtlSeconds = (long)TimeSpan.FromDays(options.Value.UsageRetentionDays).TotalSeconds;
        _dailyTtlSeconds = (long)TimeSpan.FromDays(Math.Max(options.Value.UsageRetentionDays, options.Value.UsageDailyRollupRetentionDays)).TotalSeconds;
        meterFactory.Create(PlatformTelemetry.Api).CreateObservableGauge(
            "agentplatform.usage.spool.depth", () => SpoolDepth, unit: "{record}",
            description: "Usage records waiting in this replica's spool to be written to Redis.");
    }

    /// <summary>Records waiting to reach Redis, including the batch being written.</summary>
    public int SpoolDepth => _spool.Reader.Count + Volatile.Read(ref _writing);

    /// <summary>Hands a record to the ledger; completes at once unless the spool is full.</summary>
    public ValueTask RecordAsync(UsageRecord record) =>
        _spool.Writer.TryWrite(record) ? ValueTask.CompletedTask : _spool.Writer.WriteAsync(record);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<UsageRecord>(BatchSize);
        try
        {
            while (await _spool.Reader.WaitToReadAsync(stoppingToken))
            {
                // Lets records gather into full batches: a write per request would make Redis the bottleneck.
                if (_spool.Reader.Count < BatchSize)
                {
                    await Task.Delay(Linger, _timeProvider, stoppingToken);
                }
                await WriteAvailableAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still spooled is written by StopAsync.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Requests that ended while the host stopped have recorded; write them before the process goes.
        await WriteAvailableAsync(new List<UsageRecord>(BatchSize), cancellationToken);
    }

    private async Task WriteAvailableAsync(List<UsageRecord> batch, CancellationToken cancellationToken)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < BatchSize && _spool.Reader.TryRead(out var record))
            {
                batch.Add(record);
            }
            if (batch.Count == 0)
            {
                return;
            }
            Volatile.Write(ref _writing, batch.Count);
            var written = await WriteWithRetriesAsync(batch, cancellationToken);
            Volatile.Write(ref _writing, 0);
            if (!written)
            {
                return;
            }
        }
    }

    /// <returns>False when the records were given up: the writes kept failing while stopping, or the connection is gone.</returns>
    private async Task<bool> WriteWithRetriesAsync(List<UsageRecord> batch, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        for (var failures = 0; ; failures++)
        {
            try
            {
                await WriteBatchAsync(batch);
                if (failures > 0)
                {
                    Log.UsageWritesResumed(_logger, failures);
                }
                return true;
            }
            catch (ObjectDisposedException)
            {
                // The connection was disposed with the host's services (only ever on the way out): no
                // retry can succeed, and retrying would hold the shutdown for minutes.
                Log.UsageConnectionClosed(_logger, SpoolDepth);
                return false;
            }
            catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
            {
                // Any failure, not only Redis's: an exception leaving this background service would stop the Api.
                if (failures == 0)
                {
                    Log.UsageWriteFailed(_logger, batch.Count, SpoolDepth, exception);
                }
                // Keeps trying while stopping too: the records must not be lost. The host's shutdown timeout bounds it.
                await Task.Delay(backoff, _timeProvider, CancellationToken.None);
                if (cancellationToken.IsCancellationRequested && failures > 50)
                {
                    Log.UsageSpoolAbandoned(_logger, SpoolDepth);
                    return false;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    private Task WriteBatchAsync(List<UsageRecord> batch)
    {
        var database = _redis.GetDatabase();
        var writes = new List<Task>(1);
        // One call per minute the batch spans (almost always one: records linger 50 ms for a batch).
        foreach (var minute in batch.GroupBy(record => UsageTimeline.MinuteOf(record.Time)))
        {
            // Filled in place: building it through a list and a copy put two arrays of ~100 KB per batch on
            // the large object heap, and with them a gen-2 collection every two seconds under load.
            var arguments = new RedisValue[3 + ValuesPerRecord * minute.Count()];
            arguments[0] = _recordTtlSeconds;
            arguments[1] = _dailyTtlSeconds;
            arguments[2] = UsageTimeline.MinuteTtlSeconds;
            var i = 3;
            foreach (var record in minute)
            {
                arguments[i++] = record.Id;
                arguments[i++] = JsonSerializer.SerializeToUtf8Bytes(record, UsageJsonContext.Default.UsageRecord);
                arguments[i++] = RollupPrefix(record);
                // An agent run's summary adds nothing to the roll-ups: its steps' records already count every call, token and cent.
                var counted = record.Run is null;
                arguments[i++] = counted ? 1 : 0;
                arguments[i++] = counted && record.Outcome is not UsageOutcomes.Success ? 1 : 0;
                arguments[i++] = record.PromptTokens;
                arguments[i++] = record.CachedTokens;
                arguments[i++] = record.CompletionTokens;
                arguments[i++] = BudgetPeriod.ToNanoUsd(record.CostUsd);
                arguments[i++] = record.Cache == "hit" ? 1 : 0;
                arguments[i++] = record.SavedTokens;
                arguments[i++] = BudgetPeriod.ToNanoUsd(record.SavedCostUsd);
                arguments[i++] = record.Cache == "miss" ? 1 : 0;
                arguments[i++] = counted ? UsageTimeline.Bucket(record.LatencyMs) : -1;
                arguments[i++] = counted && record.OverheadMs is { } overhead ? UsageTimeline.Bucket(overhead) : -1;
                arguments[i++] = record.RequestId;
            }
            var hour = HourOf(minute.Key);
            writes.Add(database.ScriptEvaluateAsync(WriteScript,
                [RecordsKey(hour), HourlyKey(hour), DailyKey(hour), UsageTimeline.MinuteKey(minute.Key), UsageTimeline.HourKey(hour), RequestIdsKey(hour)], arguments));
        }
        return Task.WhenAll(writes);
    }

    /// <summary>The UTC hour a moment falls in: which records hash holds it.</summary>
    internal static DateTimeOffset HourOf(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
    }

    /// <summary>
    /// What each tenant and key (by id) was charged from the first of <paramref name="now"/>'s month, in
    /// nano-USD, from the daily roll-ups: one read per day so far, sent together.
    /// </summary>
    public static async Task<Dictionary<string, long>> CostThisMonthAsync(IDatabase database, DateTimeOffset now)
    {
        var today = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var reads = Enumerable.Range(0, today.Day).Select(d => database.HashGetAllAsync(DailyKey(today.AddDays(-d)))).ToList();
        var costs = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var read in reads)
        {
            foreach (var entry in await read)
            {
                if (RollupField.TryParse((string)entry.Name!, out var field) && field.Measure == "cost_nano_usd")
                {
                    foreach (var id in (ReadOnlySpan<string?>)[field.TenantId, field.KeyId])
                    {
                        if (id is not null)
                        {
                            costs[id] = costs.GetValueOrDefault(id) + (long)entry.Value;
                        }
                    }
                }
            }
        }
        return costs;
    }

    /// <summary>A roll-up field is <c>{tenant}|{key}|{model}|{measure}</c>; "-" stands for none.</summary>
    internal static string RollupPrefix(UsageRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.TenantId ?? "-"}|{record.KeyId ?? "-"}|{record.Model ?? "-"}|");
}

/// <summary>A roll-up field (<see cref="UsageLedger.RollupPrefix"/> and a measure) read back.</summary>
/// <param name="Owner">The field without its measure, <c>{tenant}|{key}|{model}</c>: one row's fields share it.</param>
internal readonly record struct RollupField(string Owner, string? TenantId, string? KeyId, string? Model, string Measure)
{
    /// <summary>
    /// Splits a field on its first two bars and its last, so a model group whose name holds a bar is
    /// still read whole; false when the field is not a roll-up field.
    /// </summary>
    public static bool TryParse(string name, out RollupField field)
    {
        var keyAt = name.IndexOf('|');
        var modelAt = keyAt < 0 ? -1 : name.IndexOf('|', keyAt + 1);
        var measureAt = name.LastIndexOf('|');
        if (modelAt < 0 || measureAt <= modelAt)
        {
            field = default;
            return false;
        }
        field = new RollupField(name[..measureAt], Id(name[..keyAt]), Id(name[(keyAt + 1)..modelAt]), Id(name[(modelAt + 1)..measureAt]), name[(measureAt + 1)..]);
        return true;
    }

    private static string? Id(string part) => part == "-" ? null : part;
}
