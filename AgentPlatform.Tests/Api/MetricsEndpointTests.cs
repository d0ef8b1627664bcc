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

        var api = (await PrometheusScrape.ReadAsync(platform.Api.CreateHttpClient())).Text;
        var router = (await PrometheusScrape.ReadAsync(platform.Router.CreateHttpClient())).Text;

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
        var before = await PrometheusScrape.ReadAsync(platform.Api.CreateHttpClient());

        using var chat = await client.PostAsync("/v1/chat/completions", Json.Chat(stream: true));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await chat.Content.ReadAsStringAsync();
        var after = await PrometheusScrape.ReadUntilAsync(platform.Api.CreateHttpClient,
            scrape => scrape.Sum("gen_ai_server_time_to_first_token_seconds_count") > before.Sum("gen_ai_server_time_to_first_token_seconds_count"));
        double Grew(string series, params string[] labels) => after.Sum(series, labels) - before.Sum(series, labels);
        Assert.True(Grew("agentplatform_requests_total", "agentplatform_outcome=\"success\"", "http_response_status_code=\"200\"") >= 1);
        Assert.True(Grew("agentplatform_tokens_total", "gen_ai_token_type=\"output\"") >= 1);
        Assert.True(Grew("agentplatform_tokens_total", "gen_ai_token_type=\"input\"") >= 1);
        Assert.True(Grew("agentplatform_request_duration_seconds_count") >= 1);
        Assert.True(Grew("agentplatform_request_overhead_seconds_count") >= 1);
        Assert.True(Grew("gen_ai_server_time_to_first_token_seconds_count") >= 1);
        Assert.True(after.Has("agentplatform_requests_active"));
        Assert.True(after.Has("agentplatform_streams_active"));
    }
}
