using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// The usage ledger: every request's <see cref="UsageRecord"/>, kept in Redis by the hour for the
/// configured retention, with hourly and daily roll-ups per tenant, key and model group.
/// </summary>
/// <remarks>
/// Requests never wait on Redis for it: a record goes into a bounded in-process spool and a
/// background writer moves it to Redis in pipelined batches. When Redis is unreachable the spool
/// holds the records and the writer retries with backoff until it returns; nothing is dropped — if
/// the spool fills, requests wait for room rather than lose their records (its depth is the metric
/// <c>agentplatform.usage.spool.depth</c>). Each record is written by one Lua script that stores it
/// under its own id only if absent and then adds it to the roll-ups, so a batch retried after a
/// connection broke mid-way is never counted twice.
/// </remarks>
public sealed class UsageLedger : BackgroundService
{
    public const string KeyPrefix = "agentplatform:usage:";

    /// <summary>Records of one hour: a hash of record id to JSON.</summary>
    public static string RecordsKey(DateTimeOffset hour) => $"{KeyPrefix}records:{hour.UtcDateTime:yyyyMMddHH}";

    public static string HourlyKey(DateTimeOffset hour) => $"{KeyPrefix}hourly:{hour.UtcDateTime:yyyyMMddHH}";

    public static string DailyKey(DateTimeOffset day) => $"{KeyPrefix}daily:{day.UtcDateTime:yyyyMMdd}";

    private const string WriteScript = """
        -- KEYS: the hour's records, its roll-up, the day's roll-up; ARGV[1] id, ARGV[2] JSON, ARGV[3] roll-up
        -- field prefix, ARGV[4..9] requests, errors, prompt, cached, completion tokens, cost (nano-USD);
        -- ARGV[10] records' and hourly TTL, ARGV[11] daily TTL (s)
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('EXPIRE', KEYS[1], ARGV[10])
        local names = {'requests', 'errors', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'cost_nano_usd'}
        for k = 2, 3 do
          for i = 1, 6 do
            local value = tonumber(ARGV[3 + i])
            if value ~= 0 then redis.call('HINCRBY', KEYS[k], ARGV[3] .. names[i], value) end
          end
          redis.call('EXPIRE', KEYS[k], ARGV[9 + k - 1])
        end
        return 1
        """;

    private const int BatchSize = 256;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly IConnectionMultiplexer _redis;
    private readonly ILogger<UsageLedger> _logger;
    private readonly Channel<UsageRecord> _spool;
    private readonly long _recordTtlSeconds;
    private readonly long _dailyTtlSeconds;
    private int _writing;

    public UsageLedger(IConnectionMultiplexer redis, IOptions<ApiOptions> options, IMeterFactory meterFactory, ILogger<UsageLedger> logger)
    {
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
            await WriteWithRetriesAsync(batch, cancellationToken);
            Volatile.Write(ref _writing, 0);
        }
    }

    private async Task WriteWithRetriesAsync(List<UsageRecord> batch, CancellationToken cancellationToken)
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
                return;
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                if (failures == 0)
                {
                    Log.UsageWriteFailed(_logger, batch.Count, SpoolDepth, exception);
                }
                // Keeps trying while stopping too: the records must not be lost. The host's shutdown timeout bounds it.
                await Task.Delay(backoff, CancellationToken.None);
                if (cancellationToken.IsCancellationRequested && failures > 50)
                {
                    Log.UsageSpoolAbandoned(_logger, SpoolDepth);
                    return;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    private Task WriteBatchAsync(List<UsageRecord> batch)
    {
        var database = _redis.GetDatabase();
        var writes = new Task[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var record = batch[i];
            var time = record.Time.UtcDateTime;
            var hour = new DateTimeOffset(time.Year, time.Month, time.Day, time.Hour, 0, 0, TimeSpan.Zero);
            var isError = record.Outcome is not UsageOutcomes.Success;
            writes[i] = database.ScriptEvaluateAsync(WriteScript,
                [RecordsKey(hour), HourlyKey(hour), DailyKey(hour)],
                [
                    record.Id, JsonSerializer.Serialize(record, UsageJsonContext.Default.UsageRecord), RollupPrefix(record),
                    1, isError ? 1 : 0, record.PromptTokens, record.CachedTokens, record.CompletionTokens, Limits.BudgetPeriod.ToNanoUsd(record.CostUsd),
                    _recordTtlSeconds, _dailyTtlSeconds,
                ]);
        }
        // Sent together (StackExchange.Redis pipelines concurrent commands on its one connection).
        return Task.WhenAll(writes);
    }

    /// <summary>A roll-up field is <c>{tenant}|{key}|{model}|{measure}</c>; "-" stands for none.</summary>
    internal static string RollupPrefix(UsageRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.TenantId ?? "-"}|{record.KeyId ?? "-"}|{record.Model ?? "-"}|");
}
