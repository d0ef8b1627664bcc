using System.Net;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api;

/// <summary>Every service serves its metrics to Prometheus at <c>/metrics</c>, with the platform's own instruments.</summary>
[Collection(PlatformCollection.Name)]
public sealed class MetricsEndpointTests(PlatformFixture platform)
{
    [Fact]
    public async Task Api_and_Router_serve_their_metrics_for_Prometheus_after_traffic()
    {
        using var client = platform.CreateApiClient();
        using var chat = await client.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        var api = await ScrapeAsync(platform.Api.CreateHttpClient());
        var router = await ScrapeAsync(platform.Router.CreateHttpClient());

        Assert.Contains("http_server_request_duration_seconds_count{", api);
        Assert.Contains("agentplatform_usage_spool_depth", api);
        Assert.Contains("gen_ai_client_operation_duration_seconds_count{", router);
        Assert.Contains("agentplatform_router_requests_total{", router);
        Assert.Contains("agentplatform_router_breaker_state{", router);
        Assert.Contains("agentplatform_router_deployment_in_flight{", router);
        Assert.Contains("gen_ai_request_model=\"", router); // bounded tags: the model, never a key or a prompt
        Assert.DoesNotContain(PlatformFixture.MasterKey, api);
    }

    [Fact]
    public async Task A_streamed_answer_shows_in_the_Apis_request_token_latency_and_first_token_metrics()
    {
        using var client = platform.CreateApiClient();
        var before = await ScrapeAsync(platform.Api.CreateHttpClient());

        using var chat = await client.PostAsync("/v1/chat/completions", Json.Chat(stream: true));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await chat.Content.ReadAsStringAsync();
        // The request is counted as its bookkeeping ends, just after its answer; and the exporter serves
        // one scrape for 300 ms. So scrape until it shows.
        var after = before;
        double Grew(string series, params string[] labels) => Sum(after, series, labels) - Sum(before, series, labels);
        for (var deadline = DateTime.UtcNow.AddSeconds(10); Grew("gen_ai_server_time_to_first_token_seconds_count") < 1 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(100);
            after = await ScrapeAsync(platform.Api.CreateHttpClient());
        }
        Assert.True(Grew("agentplatform_requests_total", "agentplatform_outcome=\"success\"", "http_response_status_code=\"200\"") >= 1);
        Assert.True(Grew("agentplatform_tokens_total", "gen_ai_token_type=\"output\"") >= 1);
        Assert.True(Grew("agentplatform_tokens_total", "gen_ai_token_type=\"input\"") >= 1);
        Assert.True(Grew("agentplatform_request_duration_seconds_count") >= 1);
        Assert.True(Grew("agentplatform_request_overhead_seconds_count") >= 1);
        Assert.True(Grew("gen_ai_server_time_to_first_token_seconds_count") >= 1);
        Assert.Contains("agentplatform_requests_active", after);
        Assert.Contains("agentplatform_streams_active", after);
    }

    /// <summary>The sum of a metric's series that carry every one of <paramref name="labels"/> (0 when there is none).</summary>
    private static double Sum(string scrape, string series, params string[] labels) => scrape
        .Split('\n')
        .Where(line => line.StartsWith(series + "{", StringComparison.Ordinal) || line.StartsWith(series + " ", StringComparison.Ordinal))
        .Where(line => labels.All(label => line.Contains(label, StringComparison.Ordinal)))
        .Sum(line => double.Parse(PrometheusValue(line), System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The value of a sample line (<c>name{labels} value [timestamp]</c>).</summary>
    private static string PrometheusValue(string line)
    {
        var end = line.LastIndexOf('}');
        return end >= 0 ? line[(end + 1)..].Trim().Split(' ')[0] : line.Split(' ')[1];
    }

    /// <summary>Scrapes as Prometheus does: no credentials, its text format.</summary>
    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using (client)
        {
            using var response = await client.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            return await response.Content.ReadAsStringAsync();
        }
    }
}
