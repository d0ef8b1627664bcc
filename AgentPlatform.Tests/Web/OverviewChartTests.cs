using AgentPlatform.Contracts.Admin;
using AgentPlatform.Web.Components.Overview;
using AgentPlatform.Web.Overview;
using Bunit;

namespace AgentPlatform.Tests.Web;

/// <summary>How the overview turns the admin API's timeline into chart lines, and what a chart tells a screen reader.</summary>
public sealed class OverviewChartTests : BunitContext
{
    private static readonly DateTimeOffset Start = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    public OverviewChartTests() => JSInterop.Mode = JSRuntimeMode.Loose; // plotly.js is drawn in the browser tests

    [Fact]
    public void Counts_become_rates_per_second_whatever_the_step()
    {
        var minutes = Timeline(60, Point(requests: 120, errors: 6), Point(requests: 0));
        var hours = Timeline(3600, Point(requests: 7200, errors: 36));

        var traffic = OverviewSeries.Traffic(minutes);

        Assert.Equal(["requests/s", "errors/s"], traffic.Select(s => s.Name));
        Assert.Equal([2.0, 0.0], traffic[0].Y);
        Assert.Equal([0.1, 0.0], traffic[1].Y);
        Assert.Equal([Start.UtcDateTime, Start.AddMinutes(1).UtcDateTime], traffic[0].X);
        Assert.Equal([2.0], OverviewSeries.Traffic(hours)[0].Y);
    }

    [Fact]
    public void A_point_with_nothing_to_measure_is_a_gap_not_a_zero()
    {
        var timeline = Timeline(60, Point(requests: 10, latencyP50: 12.5, hits: 3, misses: 1), Point(requests: 0));

        var latency = OverviewSeries.Latency(timeline);
        var cache = OverviewSeries.CacheHitRate(timeline);

        Assert.Equal([12.5, null], latency.Single(s => s.Name == "latency p50").Y);
        Assert.Equal([75.0, null], cache[0].Y);
        Assert.Equal([0.25m, 0m], OverviewSeries.Cost(timeline)[0].Y.Select(y => (decimal)y!.Value));
    }

    [Fact]
    public void Spend_by_hour_sums_the_rollups_and_counts_an_hour_without_rows_as_nothing_spent()
    {
        UsageSummaryRow[] rows =
        [
            Row(Start, "t1", "k1", "default", 3, 0, 0.5m),
            Row(Start, "t2", "k2", "claude", 1, 1, 1.25m),
            Row(Start.AddHours(2), "t1", "k1", "default", 2, 0, 0.25m),
        ];

        var series = OverviewSeries.SpendByHour(rows, Start.AddMinutes(30), Start.AddHours(3));

        Assert.Equal([Start.UtcDateTime, Start.AddHours(1).UtcDateTime, Start.AddHours(2).UtcDateTime], series[0].X);
        Assert.Equal([1.75, 0, 0.25], series.Single(s => s.Name == "cost (USD)").Y);
        Assert.Equal([4.0, 0, 2], series.Single(s => s.Name == "requests").Y);
    }

    [Fact]
    public void A_chart_names_itself_and_reads_out_each_lines_latest_value()
    {
        var timeline = Timeline(60, Point(requests: 120, latencyP50: 12.5), Point(requests: 60, latencyP50: 8));

        var cut = Render<TimelineChart>(parameters => parameters
            .Add(c => c.Id, "chart-latency")
            .Add(c => c.Title, "Latency")
            .Add(c => c.Series, OverviewSeries.Latency(timeline)));

        Assert.Equal("Latency", cut.Find("figcaption").TextContent);
        Assert.Equal("chart-latency-caption", cut.Find("figure").GetAttribute("aria-labelledby"));
        Assert.Equal("latency p50: 8; latency p99: none; overhead p50: none; overhead p99: none", cut.Find("[data-testid=chart-latency-latest]").TextContent);
    }

    private static TimelineSums Point(long requests, long errors = 0, double? latencyP50 = null, long hits = 0, long misses = 0) =>
        TimelineSums.Empty with
        {
            Requests = requests,
            Errors = errors,
            CostUsd = requests * 0.025m,
            LatencyP50Ms = latencyP50,
            CacheHits = hits,
            CacheMisses = misses,
        };

    private static TimelineView Timeline(int stepSeconds, params TimelineSums[] points) => new(
        "test", stepSeconds, Start, Start, TimelineSums.Empty,
        points.Select((sums, i) => new TimelinePoint(Start.AddSeconds(stepSeconds * i), sums)).ToList(),
        new TopSpenders([], [], []));

    private static UsageSummaryRow Row(DateTimeOffset period, string tenantId, string keyId, string model, long requests, long errors, decimal costUsd) =>
        new(period, tenantId, keyId, model, requests, errors, PromptTokens: 0, CachedTokens: 0, CompletionTokens: 0, costUsd, CacheHits: 0, SavedTokens: 0, SavedCostUsd: 0);
}
