using System.Globalization;
using System.Net;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>A <c>/metrics</c> page in Prometheus' text format, read as Prometheus reads it.</summary>
public sealed class PrometheusScrape(string text)
{
    public string Text { get; } = text;

    /// <summary>Scrapes as Prometheus does: with the metrics key as its bearer token, in its text format.</summary>
    public static async Task<PrometheusScrape> ReadAsync(HttpClient client)
    {
        using (client)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Metrics);
            using var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            return new PrometheusScrape(await response.Content.ReadAsStringAsync());
        }
    }

    /// <summary>
    /// Scrapes until <paramref name="done"/> holds (within <see cref="Eventually.Soon"/>): the exporter serves the same page for
    /// 300 ms, and a request is counted as its bookkeeping ends, just after its answer.
    /// </summary>
    public static Task<PrometheusScrape> ReadUntilAsync(Func<HttpClient> client, Func<PrometheusScrape, bool> done) =>
        Eventually.ReadAsync(() => ReadAsync(client()), done, "a scrape with the series wanted", describe: scrape => $"a scrape of:\n{scrape.Text}");

    public bool Contains(string text) => Text.Contains(text, StringComparison.Ordinal);

    /// <summary>The sum of a metric's series that carry every one of <paramref name="labels"/> (0 when there is none).</summary>
    public double Sum(string series, params string[] labels) => Samples(series, labels).Sum();

    /// <summary>The largest value among a metric's series that carry every one of <paramref name="labels"/> (0 when there is none).</summary>
    public double Max(string series, params string[] labels) => Samples(series, labels).DefaultIfEmpty(0).Max();

    /// <summary>Whether the metric has at least one series with every one of <paramref name="labels"/>.</summary>
    public bool Has(string series, params string[] labels) => Samples(series, labels).Any();

    private IEnumerable<double> Samples(string series, string[] labels) => Text
        .Split('\n')
        .Where(line => line.StartsWith(series + "{", StringComparison.Ordinal) || line.StartsWith(series + " ", StringComparison.Ordinal))
        .Where(line => labels.All(label => line.Contains(label, StringComparison.Ordinal)))
        .Select(line => double.Parse(Value(line), CultureInfo.InvariantCulture));

    /// <summary>The value of a sample line (<c>name{labels} value [timestamp]</c>).</summary>
    private static string Value(string line)
    {
        var end = line.LastIndexOf('}');
        return end >= 0 ? line[(end + 1)..].Trim().Split(' ')[0] : line.Split(' ')[1];
    }
}
