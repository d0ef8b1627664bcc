using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.Admin;
using StackExchange.Redis;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// The platform-wide timeline the console's overview draws: per minute (kept three hours) and per hour
/// (kept as long as the hourly roll-ups), the ledger sums requests, errors, tokens, cost, cache hits and
/// misses, and counts latency and platform overhead into log-scale histogram buckets, from which p50
/// and p99 are read back. Written by <see cref="UsageLedger"/>'s batch script, so a record counts
/// exactly once here too.
/// </summary>
public static class UsageTimeline
{
    /// <summary>A minute's timeline lives long enough for the last-hour view and some slack.</summary>
    public const long MinuteTtlSeconds = 3 * 3600;

    /// <summary>Histogram buckets per tenfold: bucket edges 1.33× apart, so a percentile is within ±15%.</summary>
    private const int BucketsPerDecade = 8;

    /// <summary>The lower edge of bucket 0 (everything faster lands in it).</summary>
    private const double SmallestMs = 0.1;

    /// <summary>Bucket 63 is 0.1 ms × 10^(63/8) ≈ 7 million s: nothing is slower.</summary>
    private const int MaxBucket = 63;

    public static string MinuteKey(DateTimeOffset minute) => $"{UsageLedger.DaySlot(minute)}timeline:m:{minute.UtcDateTime:yyyyMMddHHmm}";

    public static string HourKey(DateTimeOffset hour) => $"{UsageLedger.DaySlot(hour)}timeline:h:{hour.UtcDateTime:yyyyMMddHH}";

    public static DateTimeOffset MinuteOf(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
    }

    /// <summary>The histogram bucket a duration falls in.</summary>
    public static int Bucket(double ms) =>
        ms <= SmallestMs || double.IsNaN(ms) ? 0 : Math.Min(MaxBucket, (int)(Math.Log10(ms / SmallestMs) * BucketsPerDecade));

    /// <summary>
    /// The <paramref name="quantile"/> of the durations counted in <paramref name="buckets"/>
    /// (bucket → count), interpolated within its bucket on the log scale; null when none is counted.
    /// </summary>
    public static double? Percentile(IReadOnlyDictionary<int, long> buckets, double quantile)
    {
        var total = buckets.Values.Sum();
        if (total == 0)
        {
            return null;
        }
        var rank = quantile * total;
        long below = 0;
        foreach (var (bucket, count) in buckets.OrderBy(b => b.Key))
        {
            if (below + count >= rank)
            {
                var within = count == 0 ? 0.5 : Math.Clamp((rank - below) / count, 0, 1);
                return Math.Round(SmallestMs * Math.Pow(10, (bucket + within) / BucketsPerDecade), 3);
            }
            below += count;
        }
        return null;
    }

    /// <summary>A window of the overview: how far back, and how wide each point is.</summary>
    public sealed record Window(string Name, TimeSpan Length, TimeSpan Step)
    {
        public static readonly Window Hour = new("hour", TimeSpan.FromHours(1), TimeSpan.FromMinutes(1));
        public static readonly Window Day = new("day", TimeSpan.FromDays(1), TimeSpan.FromHours(1));
        public static readonly Window Week = new("week", TimeSpan.FromDays(7), TimeSpan.FromHours(1));

        public static Window? Parse(string? name) => name switch
        {
            null or "" or "hour" => Hour,
            "day" => Day,
            "week" => Week,
            _ => null,
        };

        /// <summary>The start of each point, oldest first, the last being the one <paramref name="now"/> is in.</summary>
        public IEnumerable<DateTimeOffset> Points(DateTimeOffset now)
        {
            var last = Step == TimeSpan.FromMinutes(1) ? MinuteOf(now) : UsageLedger.HourOf(now);
            var count = (int)(Length / Step);
            for (var i = count - 1; i >= 0; i--)
            {
                yield return last - Step * i;
            }
        }

        public string Key(DateTimeOffset point) => Step == TimeSpan.FromMinutes(1) ? MinuteKey(point) : HourKey(point);
    }

    /// <summary>The sums of one point of the timeline, or of a whole window.</summary>
    public sealed class Sums
    {
        public long Requests { get; private set; }
        public long Errors { get; private set; }
        public long PromptTokens { get; private set; }
        public long CachedTokens { get; private set; }
        public long CompletionTokens { get; private set; }
        public long CostNanoUsd { get; private set; }
        public long CacheHits { get; private set; }
        public long CacheMisses { get; private set; }
        public Dictionary<int, long> Latency { get; } = [];
        public Dictionary<int, long> Overhead { get; } = [];

        public void Add(HashEntry[] fields)
        {
            foreach (var field in fields)
            {
                Add((string)field.Name!, (long)field.Value);
            }
        }

        public void Add(Sums other)
        {
            Requests += other.Requests;
            Errors += other.Errors;
            PromptTokens += other.PromptTokens;
            CachedTokens += other.CachedTokens;
            CompletionTokens += other.CompletionTokens;
            CostNanoUsd += other.CostNanoUsd;
            CacheHits += other.CacheHits;
            CacheMisses += other.CacheMisses;
            Merge(Latency, other.Latency);
            Merge(Overhead, other.Overhead);
        }

        private void Add(string name, long value)
        {
            switch (name)
            {
                case "requests": Requests += value; break;
                case "errors": Errors += value; break;
                case "prompt_tokens": PromptTokens += value; break;
                case "cached_tokens": CachedTokens += value; break;
                case "completion_tokens": CompletionTokens += value; break;
                case "cost_nano_usd": CostNanoUsd += value; break;
                case "cache_hits": CacheHits += value; break;
                case "cache_misses": CacheMisses += value; break;
                default:
                    if (name.StartsWith("lat:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4), out var latency))
                    {
                        Latency[latency] = Latency.GetValueOrDefault(latency) + value;
                    }
                    else if (name.StartsWith("ovh:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4), out var overhead))
                    {
                        Overhead[overhead] = Overhead.GetValueOrDefault(overhead) + value;
                    }
                    break; // saved tokens and cost: not drawn
            }
        }

        private static void Merge(Dictionary<int, long> into, Dictionary<int, long> from)
        {
            foreach (var (bucket, count) in from)
            {
                into[bucket] = into.GetValueOrDefault(bucket) + count;
            }
        }

        /// <summary>The JSON shape of the sums: counts, cost in USD, and the percentiles read from the histograms.</summary>
        public TimelineSums Describe() => new(
            Requests, Errors, PromptTokens, CachedTokens, CompletionTokens, BudgetPeriod.FromNanoUsd(CostNanoUsd), CacheHits, CacheMisses,
            Percentile(Latency, 0.5), Percentile(Latency, 0.99), Percentile(Overhead, 0.5), Percentile(Overhead, 0.99));
    }
}
