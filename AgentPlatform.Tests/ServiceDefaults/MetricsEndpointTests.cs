using System.Net;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.ServiceDefaults;

/// <summary>
/// Every service serves its metrics to Prometheus at <c>/metrics</c>, with the platform's own instruments,
/// to a scraper that presents the metrics key: the Api's listener is public.
/// </summary>
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
    public async Task Metrics_are_served_to_no_one_without_the_metrics_key()
    {
        foreach (var service in new IRunningService[] { platform.Api, platform.Router })
        {
            foreach (var credential in new[] { null, PlatformFixture.MasterKey, TestKeys.Internal, TestKeys.Metrics + "x" })
            {
                using var client = new HttpClient { BaseAddress = service.BaseAddress };
                if (credential is not null)
                {
                    client.DefaultRequestHeaders.Authorization = new("Bearer", credential);
                }

                using var response = await client.GetAsync("/metrics");
                var body = await response.Content.ReadAsStringAsync();

                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Contains("invalid_metrics_key", body);
                Assert.DoesNotContain("# TYPE", body);
            }
        }
    }

    [Fact]
    public async Task A_service_given_no_metrics_key_serves_no_metrics_over_http()
    {
        await using var api = new KestrelApp<AgentPlatform.Api.ApiOptions>(PlatformFixture.ApiSettings(platform.Redis, platform.Router.BaseAddress,
            new Dictionary<string, string?> { ["AgentPlatform:MetricsKey"] = "" })).Start();
        using var client = api.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Metrics);

        using var metrics = await client.GetAsync("/metrics");
        using var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task A_streamed_answer_shows_in_the_Apis_request_token_latency_and_first_token_metrics()
    {
        // An Api process of its own: in this process every Api host's meters reach every host's
        // exporter, and another test's host going away takes its series out between two scrapes.
        await using var api = await ServiceProcess.StartAsync("AgentPlatform.Api", PlatformFixture.ApiSettings(platform.Redis, platform.Router.BaseAddress));
        using var client = api.Client(PlatformFixture.MasterKey);
        var before = await PrometheusScrape.ReadAsync(api.CreateHttpClient());

        using var chat = await client.PostAsync("/v1/chat/completions", Json.Chat(stream: true));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await chat.Content.ReadAsStringAsync();
        var after = await PrometheusScrape.ReadUntilAsync(api.CreateHttpClient,
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
