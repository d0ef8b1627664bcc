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
        Assert.Contains("gen_ai_request_model=\"", router); // bounded tags: the model, never a key or a prompt
        Assert.DoesNotContain(PlatformFixture.MasterKey, api);
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
