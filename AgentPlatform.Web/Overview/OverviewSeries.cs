using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Web.Overview;

/// <summary>A line of a chart: a name and one value per point of the timeline (null: nothing to show there).</summary>
public sealed record Series(string Name, IReadOnlyList<DateTime> X, IReadOnlyList<double?> Y);

/// <summary>
/// Turns the admin API's timeline into the overview's chart lines: rates per second rather than counts
/// per point (so the hour, day and week views compare), percentages for shares, and gaps — not zeros —
/// where a point has nothing to measure (a latency of 0 ms would be a lie).
/// </summary>
public static class OverviewSeries
{
    public static IReadOnlyList<Series> Traffic(TimelineView timeline) =>
    [
        Line(timeline, "requests/s", s => (double)s.Requests / timeline.StepSeconds),
        Line(timeline, "errors/s", s => (double)s.Errors / timeline.StepSeconds),
    ];

    public static IReadOnlyList<Series> Latency(TimelineView timeline) =>
    [
        Line(timeline, "latency p50", s => s.LatencyP50Ms),
        Line(timeline, "latency p99", s => s.LatencyP99Ms),
        Line(timeline, "overhead p50", s => s.OverheadP50Ms),
        Line(timeline, "overhead p99", s => s.OverheadP99Ms),
    ];

    public static IReadOnlyList<Series> Tokens(TimelineView timeline) =>
    [
        Line(timeline, "input", s => s.PromptTokens),
        Line(timeline, "of which cached", s => s.CachedTokens),
        Line(timeline, "output", s => s.CompletionTokens),
    ];

    public static IReadOnlyList<Series> Cost(TimelineView timeline) => [Line(timeline, "cost (USD)", s => (double)s.CostUsd)];

    public static IReadOnlyList<Series> CacheHitRate(TimelineView timeline) => [Line(timeline, "hit rate %", s => s.CacheHitRate * 100)];

    /// <summary>
    /// Cost and requests per hour from the hourly roll-ups (summed over tenants, keys and model groups),
    /// one point per hour from <paramref name="from"/> to <paramref name="to"/>: an hour without a row cost nothing.
    /// </summary>
    public static IReadOnlyList<Series> SpendByHour(IReadOnlyList<UsageSummaryRow> rows, DateTimeOffset from, DateTimeOffset to)
    {
        var byHour = rows.GroupBy(r => r.Period.UtcDateTime).ToDictionary(g => g.Key, g => (Cost: g.Sum(r => r.CostUsd), Requests: g.Sum(r => r.Requests)));
        var hours = new List<DateTime>();
        for (var hour = new DateTime(from.UtcDateTime.Year, from.UtcDateTime.Month, from.UtcDateTime.Day, from.UtcDateTime.Hour, 0, 0, DateTimeKind.Utc); hour < to.UtcDateTime; hour = hour.AddHours(1))
        {
            hours.Add(hour);
        }
        return
        [
            new("cost (USD)", hours, hours.Select(h => (double?)(double)(byHour.TryGetValue(h, out var sums) ? sums.Cost : 0)).ToList()),
            new("requests", hours, hours.Select(h => (double?)(byHour.TryGetValue(h, out var sums) ? sums.Requests : 0)).ToList()),
        ];
    }

    private static Series Line(TimelineView timeline, string name, Func<TimelineSums, double?> value) =>
        new(name, timeline.Points.Select(p => p.Start.UtcDateTime).ToList(), timeline.Points.Select(p => value(p.Sums)).ToList());
}
