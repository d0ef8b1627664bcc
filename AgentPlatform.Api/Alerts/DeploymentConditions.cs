using System.Globalization;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.Telemetry;
using StackExchange.Redis;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// The <c>error_rate</c> and <c>latency_p99</c> rules, over the attempts every Router replica adds to
/// Redis in 10-second buckets (<see cref="DeploymentStatsKeys"/>): one alert per deployment (or model
/// group) whose failures or 99th percentile over the rule's window reach its bound, once it had at
/// least <see cref="AlertRule.MinRequests"/> attempts there.
/// </summary>
public sealed class DeploymentConditions(IConnectionMultiplexer redis)
{
    public async Task AddAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        var window = rule.Window;
        var totals = await ReadAsync(now - window, now, byGroup: rule.EffectiveScope == "group");
        var seconds = window.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
        foreach (var (subject, total) in totals.Where(t => t.Value.Attempts >= rule.EffectiveMinRequests))
        {
            var (group, deployment) = Split(subject);
            var who = deployment is null ? $"Model group '{group}'" : $"Deployment '{deployment}' of model group '{group}'";
            string? summary = null;
            if (rule.Kind == AlertKinds.ErrorRate && total.Errors * 100.0 / total.Attempts is var rate && rate >= rule.ThresholdPercent)
            {
                summary = string.Create(CultureInfo.InvariantCulture,
                    $"{who} failed {total.Errors} of {total.Attempts} attempts ({rate:0.#}%) in the last {seconds} s, at or above {rule.ThresholdPercent}%.");
            }
            else if (rule.Kind == AlertKinds.LatencyP99 && P99(total) is var p99 && p99 >= rule.ThresholdMs)
            {
                summary = string.Create(CultureInfo.InvariantCulture,
                    $"{who} answered 99% of {total.Attempts} attempts in the last {seconds} s within {(double.IsPositiveInfinity(p99) ? $"more than {DeploymentStatsKeys.LatencyBoundsMs[^1]}" : p99)} ms, at or above {rule.ThresholdMs} ms.");
            }
            if (summary is null)
            {
                continue;
            }
            var labels = new Dictionary<string, string> { ["scope"] = rule.EffectiveScope, ["group"] = group };
            if (deployment is not null)
            {
                labels["deployment"] = deployment;
            }
            holding.Hold(rule, $"{rule.EffectiveScope}|{subject}", summary, labels, now);
        }
    }

    /// <summary>The <c>breaker_open</c> rule: every deployment whose breaker opened at least <see cref="AlertRule.ForSeconds"/> ago and has not closed since.</summary>
    public async Task AddOpenBreakersAsync(AlertRule rule, DateTimeOffset now, Dictionary<string, Alert> holding)
    {
        var bound = rule.For;
        foreach (var entry in await redis.GetDatabase().HashGetAllAsync(DeploymentStatsKeys.BreakersOpenSinceKey))
        {
            var since = DateTimeOffset.FromUnixTimeMilliseconds((long)entry.Value);
            var subject = (string)entry.Name!;
            if (now - since < bound || Split(subject) is not (var group, { } deployment))
            {
                continue;
            }
            holding.Hold(rule, $"deployment|{subject}",
                string.Create(CultureInfo.InvariantCulture,
                    $"The breaker of deployment '{deployment}' of model group '{group}' has been open since {since:u} ({(now - since).TotalSeconds:0} s), longer than {bound.TotalSeconds:0} s."),
                new() { ["scope"] = "deployment", ["group"] = group, ["deployment"] = deployment }, now);
        }
    }

    /// <summary>A subject (<see cref="DeploymentStatsKeys.Subject"/>) as its group and deployment; a group alone has no deployment.</summary>
    private static (string Group, string? Deployment) Split(string subject) =>
        subject.IndexOf('|') is var bar and >= 0 ? (subject[..bar], subject[(bar + 1)..]) : (subject, null);

    private sealed class Totals
    {
        public long Attempts;
        public long Errors;
        public readonly long[] Latency = new long[DeploymentStatsKeys.LatencyBoundsMs.Length + 1];
    }

    /// <summary>Attempts, errors and latency counts per <c>group|deployment</c> (or per group) in the buckets from <paramref name="from"/> to <paramref name="to"/>.</summary>
    private async Task<Dictionary<string, Totals>> ReadAsync(DateTimeOffset from, DateTimeOffset to, bool byGroup)
    {
        var database = redis.GetDatabase();
        var reads = new List<Task<HashEntry[]>>();
        for (var bucket = DeploymentStatsKeys.Bucket(from); bucket <= DeploymentStatsKeys.Bucket(to); bucket++)
        {
            reads.Add(database.HashGetAllAsync(DeploymentStatsKeys.Key(bucket)));
        }
        var totals = new Dictionary<string, Totals>(StringComparer.Ordinal);
        foreach (var entry in (await Task.WhenAll(reads)).SelectMany(entries => entries))
        {
            // {group}|{deployment}|{measure}
            var field = (string)entry.Name!;
            var measureAt = field.LastIndexOf('|');
            var subjectEnd = byGroup ? field.IndexOf('|') : measureAt;
            if (measureAt <= 0 || subjectEnd <= 0)
            {
                continue;
            }
            var subject = field[..subjectEnd];
            if (!totals.TryGetValue(subject, out var total))
            {
                totals[subject] = total = new Totals();
            }
            var measure = field.AsSpan(measureAt + 1);
            var value = (long)entry.Value;
            if (measure.SequenceEqual("attempts"))
            {
                total.Attempts += value;
            }
            else if (measure.SequenceEqual("errors"))
            {
                total.Errors += value;
            }
            else if (measure.StartsWith("ms") && int.TryParse(measure[2..], CultureInfo.InvariantCulture, out var index) && index < total.Latency.Length)
            {
                total.Latency[index] += value;
            }
        }
        return totals;
    }

    /// <summary>The upper bound of the latency bucket holding the 99th percentile (infinity for the open one).</summary>
    private static double P99(Totals total)
    {
        var rank = (long)Math.Ceiling(total.Attempts * 0.99);
        long seen = 0;
        for (var i = 0; i < total.Latency.Length; i++)
        {
            seen += total.Latency[i];
            if (seen >= rank)
            {
                return i < DeploymentStatsKeys.LatencyBoundsMs.Length ? DeploymentStatsKeys.LatencyBoundsMs[i] : double.PositiveInfinity;
            }
        }
        return 0;
    }
}
