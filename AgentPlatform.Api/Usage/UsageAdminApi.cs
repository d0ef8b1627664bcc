using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.AspNetCore.Http.HttpResults;
using StackExchange.Redis;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// <c>GET /admin/v1/usage</c>: the ledger's records, filtered by tenant, key, model group and time, as
/// a JSON list or exported whole as JSON Lines or CSV for billing; <c>GET /admin/v1/usage/summary</c>:
/// the hourly or daily roll-ups; and <c>GET /admin/v1/usage/timeline</c>: the console overview's data.
/// </summary>
public static class UsageAdminApi
{
    /// <summary>The widest time range one query reads (its records are read hour by hour).</summary>
    private static readonly TimeSpan MaxRange = TimeSpan.FromDays(93);

    private const int DefaultLimit = 1000;
    private const int MaxLimit = 10_000;

    public static RouteGroupBuilder MapUsageAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/usage", ListAsync)
            .WithName("ListUsage")
            .WithSummary("Usage records; filters requestId, tenantId, keyId, model, from, to; format=json (default), jsonl or csv.");
        admin.MapGet("/usage/summary", SummaryAsync)
            .WithName("SummarizeUsage")
            .WithSummary("Usage rolled up per hour or day, per tenant, key and model group.");
        admin.MapGet("/usage/timeline", TimelineAsync)
            .WithName("UsageTimeline")
            .WithSummary("The whole platform over the last hour (per minute), day or week (per hour): requests, errors, tokens, cost, cache hits, p50/p99 latency and overhead, and the top tenants, keys and model groups by spend.");
        return admin;
    }

    private sealed record Filter(string? TenantId, string? KeyId, string? Model, DateTimeOffset From, DateTimeOffset To, string? RequestId = null)
    {
        public bool Matches(UsageRecord record) =>
            record.Time >= From && record.Time < To
            && (RequestId is null || record.RequestId == RequestId)
            && (TenantId is null || record.TenantId == TenantId)
            && (KeyId is null || record.KeyId == KeyId)
            && (Model is null || record.Model == Model);

        public bool Matches(string? tenantId, string? keyId, string? model) =>
            (TenantId is null || tenantId == TenantId) && (KeyId is null || keyId == KeyId) && (Model is null || model == Model);
    }

    private static async Task<Results<Ok<Page<UsageRecord>>, UsageExport, OpenAIErrorResult>> ListAsync(
        IConnectionMultiplexer redis, TimeProvider timeProvider, CancellationToken cancellationToken,
        string? requestId, string? tenantId, string? keyId, string? model, string? from, string? to, string? format, int? limit)
    {
        // A request id is looked up over the whole retention unless a range is given: whoever pastes one
        // rarely knows when it was made.
        var defaultRange = string.IsNullOrEmpty(requestId) ? TimeSpan.FromDays(1) : MaxRange;
        var (range, problem) = ReadFilter(timeProvider, tenantId, keyId, model, from, to, defaultRange);
        if (problem is not null)
        {
            return problem;
        }
        var filter = range! with { RequestId = Blank(requestId) };
        if (limit is < 1 or > MaxLimit)
        {
            return BadQuery($"'limit' must be between 1 and {MaxLimit}.", "limit");
        }
        var database = redis.GetDatabase();
        switch (format ?? "json")
        {
            case "json":
                var records = new List<UsageRecord>();
                var max = limit ?? DefaultLimit;
                await foreach (var (record, _) in ReadAsync(database, filter, cancellationToken))
                {
                    if (records.Count == max)
                    {
                        return TypedResults.Ok(new Page<UsageRecord>(records, HasMore: true));
                    }
                    records.Add(record);
                }
                return TypedResults.Ok(new Page<UsageRecord>(records, HasMore: false));
            case "jsonl":
                // As stored: no second serialization.
                return new UsageExport("application/jsonl; charset=utf-8", "usage.jsonl", null,
                    cancellation => Lines(ReadAsync(database, filter, cancellation), found => found.Json));
            case "csv":
                return new UsageExport("text/csv; charset=utf-8", "usage.csv", CsvHeader,
                    cancellation => Lines(ReadAsync(database, filter, cancellation), found => ToCsv(found.Record)));
            default:
                return BadQuery("'format' must be json, jsonl or csv.", "format");
        }
    }

    private static async IAsyncEnumerable<string> Lines<T>(IAsyncEnumerable<T> items, Func<T, string> line)
    {
        await foreach (var item in items)
        {
            yield return line(item);
        }
    }

    /// <summary>The records in the range with their stored JSON, hour by hour, each hour's in time order.</summary>
    private static async IAsyncEnumerable<(UsageRecord Record, string Json)> ReadAsync(IDatabase database, Filter filter,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (filter.RequestId is { } requestId)
        {
            await foreach (var found in ReadRequestAsync(database, filter, requestId).WithCancellation(cancellationToken))
            {
                yield return found;
            }
            yield break;
        }
        for (var hour = UsageLedger.HourOf(filter.From); hour < filter.To; hour = hour.AddHours(1))
        {
            var records = new List<(UsageRecord Record, string Json)>();
            await foreach (var entry in database.HashScanAsync(UsageLedger.RecordsKey(hour), pageSize: 1000).WithCancellation(cancellationToken))
            {
                var json = (string)entry.Value!;
                if (JsonSerializer.Deserialize(json, UsageJsonContext.Default.UsageRecord) is { } record && filter.Matches(record))
                {
                    records.Add((record, json));
                }
            }
            records.Sort((a, b) => a.Record.Time.CompareTo(b.Record.Time));
            foreach (var record in records)
            {
                yield return record;
            }
        }
    }

    /// <summary>A request's records (an agent run has several), through each hour's request-id index: one lookup per hour, sent together.</summary>
    private static async IAsyncEnumerable<(UsageRecord Record, string Json)> ReadRequestAsync(IDatabase database, Filter filter, string requestId)
    {
        var hours = new List<DateTimeOffset>();
        for (var hour = UsageLedger.HourOf(filter.From); hour < filter.To; hour = hour.AddHours(1))
        {
            hours.Add(hour);
        }
        var lookups = hours.Select(hour => database.HashGetAsync(UsageLedger.RequestIdsKey(hour), requestId)).ToList();
        for (var i = 0; i < hours.Count; i++)
        {
            if (await lookups[i] is not { HasValue: true } recordIds)
            {
                continue;
            }
            var ids = ((string)recordIds!).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(id => (RedisValue)id).ToArray();
            foreach (var stored in await database.HashGetAsync(UsageLedger.RecordsKey(hours[i]), ids))
            {
                if (stored.HasValue && JsonSerializer.Deserialize((string)stored!, UsageJsonContext.Default.UsageRecord) is { } record && filter.Matches(record))
                {
                    yield return (record, (string)stored!);
                }
            }
        }
    }

    private static async Task<Results<Ok<UsageSummary>, OpenAIErrorResult>> SummaryAsync(IConnectionMultiplexer redis, TimeProvider timeProvider,
        string? tenantId, string? keyId, string? model, string? from, string? to, string? granularity)
    {
        var (found, problem) = ReadFilter(timeProvider, tenantId, keyId, model, from, to);
        if (found is not { } filter)
        {
            return problem!;
        }
        var daily = granularity == "day";
        if (!daily && granularity is not (null or "hour"))
        {
            return BadQuery("'granularity' must be hour or day.", "granularity");
        }
        var database = redis.GetDatabase();
        var rows = new List<UsageSummaryRow>();
        var step = daily ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1);
        var start = daily ? new DateTimeOffset(filter!.From.UtcDateTime.Date, TimeSpan.Zero) : UsageLedger.HourOf(filter.From);
        for (var period = start; period < filter.To; period += step)
        {
            var fields = await database.HashGetAllAsync(daily ? UsageLedger.DailyKey(period) : UsageLedger.HourlyKey(period));
            var groups = new SortedDictionary<string, (RollupField Owner, Dictionary<string, long> Measures)>(StringComparer.Ordinal);
            foreach (var entry in fields)
            {
                if (!RollupField.TryParse((string)entry.Name!, out var field) || !filter.Matches(field.TenantId, field.KeyId, field.Model))
                {
                    continue;
                }
                if (!groups.TryGetValue(field.Owner, out var group))
                {
                    groups[field.Owner] = group = (field, []);
                }
                group.Measures[field.Measure] = (long)entry.Value;
            }
            foreach (var (owner, measures) in groups.Values)
            {
                rows.Add(new UsageSummaryRow(
                    period, owner.TenantId, owner.KeyId, owner.Model,
                    measures.GetValueOrDefault("requests"),
                    measures.GetValueOrDefault("errors"),
                    measures.GetValueOrDefault("prompt_tokens"),
                    measures.GetValueOrDefault("cached_tokens"),
                    measures.GetValueOrDefault("completion_tokens"),
                    BudgetPeriod.FromNanoUsd(measures.GetValueOrDefault("cost_nano_usd")),
                    measures.GetValueOrDefault("cache_hits"),
                    measures.GetValueOrDefault("saved_tokens"),
                    BudgetPeriod.FromNanoUsd(measures.GetValueOrDefault("saved_cost_nano_usd"))));
            }
        }
        return TypedResults.Ok(new UsageSummary(daily ? "day" : "hour", rows));
    }

    private const int TopCount = 5;

    private static async Task<Results<Ok<TimelineView>, OpenAIErrorResult>> TimelineAsync(IConnectionMultiplexer redis, TimeProvider timeProvider, string? window)
    {
        if (UsageTimeline.Window.Parse(window) is not { } shown)
        {
            return BadQuery("'window' must be hour, day or week.", "window");
        }
        var now = timeProvider.GetUtcNow();
        var points = shown.Points(now).ToList();
        // The spend ranking comes from the hourly roll-ups of every hour the window touches.
        var hours = new List<DateTimeOffset>();
        for (var hour = UsageLedger.HourOf(now - shown.Length); hour <= now; hour = hour.AddHours(1))
        {
            hours.Add(hour);
        }
        var database = redis.GetDatabase();
        // Sent together, read as they come: one round trip's worth of waiting for the lot.
        var pointReads = points.Select(point => database.HashGetAllAsync(shown.Key(point))).ToList();
        var hourReads = hours.Select(hour => database.HashGetAllAsync(UsageLedger.HourlyKey(hour))).ToList();

        var totals = new UsageTimeline.Sums();
        var buckets = new List<TimelinePoint>(points.Count);
        for (var i = 0; i < points.Count; i++)
        {
            var sums = new UsageTimeline.Sums();
            sums.Add(await pointReads[i]);
            totals.Add(sums);
            buckets.Add(new TimelinePoint(points[i], sums.Describe()));
        }
        var spend = new Dictionary<(int Part, string Id), (long CostNano, long Requests)>();
        foreach (var read in hourReads)
        {
            foreach (var entry in await read)
            {
                if (!RollupField.TryParse((string)entry.Name!, out var field) || field.Measure is not ("cost_nano_usd" or "requests"))
                {
                    continue;
                }
                var owners = (ReadOnlySpan<string?>)[field.TenantId, field.KeyId, field.Model];
                for (var part = 0; part < owners.Length; part++)
                {
                    if (owners[part] is not { } id)
                    {
                        continue;
                    }
                    var (cost, requests) = spend.GetValueOrDefault((part, id));
                    spend[(part, id)] = field.Measure == "requests" ? (cost, requests + (long)entry.Value) : (cost + (long)entry.Value, requests);
                }
            }
        }
        return TypedResults.Ok(new TimelineView(shown.Name, (int)shown.Step.TotalSeconds, points[0], hours[0], totals.Describe(), buckets,
            new TopSpenders(Top(spend, 0), Top(spend, 1), Top(spend, 2))));
    }

    private static List<Spender> Top(Dictionary<(int Part, string Id), (long CostNano, long Requests)> spend, int part) =>
        spend.Where(e => e.Key.Part == part)
            .OrderByDescending(e => e.Value.CostNano).ThenByDescending(e => e.Value.Requests).ThenBy(e => e.Key.Id, StringComparer.Ordinal)
            .Take(TopCount)
            .Select(e => new Spender(e.Key.Id, BudgetPeriod.FromNanoUsd(e.Value.CostNano), e.Value.Requests))
            .ToList();

    /// <summary>The query's filter, or the 400 naming the parameter that is wrong.</summary>
    private static (Filter? Filter, OpenAIErrorResult? Problem) ReadFilter(TimeProvider timeProvider,
        string? tenantId, string? keyId, string? model, string? from, string? to, TimeSpan? defaultRange = null)
    {
        var now = timeProvider.GetUtcNow();
        if (!TryParseTime(to, now, out var end))
        {
            return (null, BadQuery("'to' must be a date and time in ISO 8601, such as 2026-11-27T12:00:00Z.", "to"));
        }
        if (!TryParseTime(from, end - (defaultRange ?? TimeSpan.FromDays(1)), out var start))
        {
            return (null, BadQuery("'from' must be a date and time in ISO 8601, such as 2026-11-27T00:00:00Z.", "from"));
        }
        if (start >= end || end - start > MaxRange)
        {
            return (null, BadQuery($"'from' must be before 'to', and at most {MaxRange.TotalDays:0} days before it.", "from"));
        }
        return (new Filter(Blank(tenantId), Blank(keyId), Blank(model), start.ToUniversalTime(), end.ToUniversalTime()), null);
    }

    private static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static bool TryParseTime(string? text, DateTimeOffset fallback, out DateTimeOffset time)
    {
        if (string.IsNullOrEmpty(text))
        {
            time = fallback;
            return true;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
    }

    private static OpenAIErrorResult BadQuery(string message, string param) => OpenAIErrorResult.BadRequest(message, "invalid_query", param);

    private const string CsvHeader =
        "id,requestId,time,tenantId,keyId,model,deployment,promptTokens,cachedTokens,completionTokens,estimated,costUsd,latencyMs,overheadMs,status,outcome,cache,stream,savedTokens,savedCostUsd,traceId,door,cacheWriteTokens";

    internal static string ToCsv(UsageRecord r)
    {
        var line = new StringBuilder(256);
        foreach (var value in (ReadOnlySpan<object?>)
            [r.Id, r.RequestId, r.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), r.TenantId, r.KeyId, r.Model, r.Deployment,
             r.PromptTokens, r.CachedTokens, r.CompletionTokens, r.Estimated ? "true" : "false", r.CostUsd, r.LatencyMs, r.OverheadMs,
             r.Status, r.Outcome, r.Cache, r.Stream ? "true" : "false", r.SavedTokens, r.SavedCostUsd, r.TraceId, r.Door, r.CacheWriteTokens])
        {
            if (line.Length > 0)
            {
                line.Append(',');
            }
            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            if (value is string && text.Length > 0 && FormulaStarts.Contains(text[0]))
            {
                // A spreadsheet runs a cell that starts so as a formula; a leading ' makes it text (OWASP's advice).
                text = "'" + text;
            }
            line.Append(text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{text.Replace("\"", "\"\"")}\"" : text);
        }
        return line.ToString();
    }

    private static readonly SearchValues<char> FormulaStarts = SearchValues.Create("=+-@\t\r");
}
