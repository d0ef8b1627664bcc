using System.Net;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api;

/// <summary>
/// Traffic of every kind an operator watches for — cached and uncached answers, provider prompt-cache
/// reads, retries, fallbacks, an open breaker, rate-limit and budget refusals, a stream in flight —
/// and then every platform metric scraped from <c>/metrics</c> of the Api and the Router, non-zero.
/// </summary>
public sealed class MetricsCoverageTests(MetricsCoverageFixture fixture) : IClassFixture<MetricsCoverageFixture>
{
    private static readonly string LongPrompt = string.Join(' ', Enumerable.Repeat("word", 1100));

    [Fact]
    public async Task After_traffic_of_every_kind_every_platform_metric_shows_non_zero_values()
    {
        var tenantId = await ApiCalls.CreateTenantAsync(fixture.Api, new { name = $"metrics-{Guid.NewGuid():N}" });
        var (_, key) = await ApiCalls.CreateKeyAsync(fixture.Api, tenantId, new { name = "traffic" });
        using var client = ApiCalls.Client(fixture.Api, key);

        // Cache: a miss, then a hit of the same request; a bypass (group without the cache).
        await ChatAsync(client, """{"model":"priced","messages":[{"role":"user","content":"cache me"}]}""");
        await ChatAsync(client, """{"model":"priced","messages":[{"role":"user","content":"cache me"}]}""");
        await ChatAsync(client, """{"model":"pair","messages":[{"role":"user","content":"no cache here"}]}""");
        await ChatAsync(client, """{"model":"priced","stream":true,"messages":[{"role":"user","content":"a first token"}]}""");
        // Provider prompt cache: the same long prompt twice (other max_tokens, so not the Api's cache).
        await ChatAsync(client, JsonSerializer.Serialize(new { model = "priced", max_tokens = 4, messages = new[] { new { role = "user", content = LongPrompt } } }));
        await ChatAsync(client, JsonSerializer.Serialize(new { model = "priced", max_tokens = 5, messages = new[] { new { role = "user", content = LongPrompt } } }));
        // Retries: the faulty deployment comes first in 'pair' until its breaker opens; then the breaker turns requests away.
        for (var i = 0; i < 4; i++)
        {
            await ChatAsync(client, $$"""{"model":"pair","messages":[{"role":"user","content":"retry {{i}}"}]}""");
        }
        // Fallback: 'broken' has only a faulty deployment and falls back to 'priced'.
        await ChatAsync(client, """{"model":"broken","messages":[{"role":"user","content":"fall back"}]}""");

        // Refusals: a key allowed one request a minute, and a key with almost no budget.
        var (_, limited) = await ApiCalls.CreateKeyAsync(fixture.Api, tenantId, new { name = "one a minute", rpm = 1 });
        using (var limitedClient = ApiCalls.Client(fixture.Api, limited))
        {
            await ChatAsync(limitedClient, """{"model":"pair","messages":[{"role":"user","content":"first"}]}""");
            using var refused = await limitedClient.PostAsync("/v1/chat/completions", Json.Chat(model: "pair"));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }
        var (_, broke) = await ApiCalls.CreateKeyAsync(fixture.Api, tenantId, new { name = "broke", budgetUsd = 0.000001m, budgetPeriod = "daily" });
        using (var brokeClient = ApiCalls.Client(fixture.Api, broke))
        {
            await SpendUntilAsync(brokeClient, HttpStatusCode.PaymentRequired);
        }

        // A stream held open while the gauges are read (a long one: the scrapes may take a while on a busy machine).
        using var streaming = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(model: "slow", stream: true) };
        using var stream = await client.SendAsync(streaming, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);

        var api = await PrometheusScrape.ReadUntilAsync(fixture.Api.CreateHttpClient, s => s.Sum("agentplatform_streams_active") > 0
            && s.Sum("agentplatform_limits_refusals_total", "agentplatform_limit=\"budget\"") > 0);
        var router = await PrometheusScrape.ReadUntilAsync(fixture.Router.CreateHttpClient,
            s => s.Sum("agentplatform_router_deployment_in_flight", "agentplatform_deployment=\"slow-sim\"") > 0);
        stream.Dispose(); // the client leaves the stream: what it was for is read

        var missing = new List<string>();
        void Expect(PrometheusScrape scrape, string series, params string[] labels)
        {
            if (!(scrape.Sum(series, labels) > 0))
            {
                missing.Add($"{series}{{{string.Join(',', labels)}}}");
            }
        }
        // Requests by outcome and status, latency, overhead, time to first token.
        Expect(api, "agentplatform_requests_total", "agentplatform_outcome=\"success\"", "http_response_status_code=\"200\"");
        Expect(api, "agentplatform_requests_total", "http_response_status_code=\"429\"");
        Expect(api, "agentplatform_requests_total", "http_response_status_code=\"402\"");
        Expect(api, "agentplatform_request_duration_seconds_count");
        Expect(api, "agentplatform_request_overhead_seconds_count");
        Expect(api, "gen_ai_server_time_to_first_token_seconds_count");
        // Tokens of each type, cost.
        Expect(api, "agentplatform_tokens_total", "gen_ai_token_type=\"input\"");
        Expect(api, "agentplatform_tokens_total", "gen_ai_token_type=\"cached\"");
        Expect(api, "agentplatform_tokens_total", "gen_ai_token_type=\"output\"");
        Expect(api, "agentplatform_cost_USD_total");
        // Cache outcomes.
        Expect(api, "agentplatform_cache_requests_total", "outcome=\"hit\"");
        Expect(api, "agentplatform_cache_requests_total", "outcome=\"miss\"");
        Expect(api, "agentplatform_cache_requests_total", "outcome=\"bypass\"");
        // Rate-limit and budget refusals.
        Expect(api, "agentplatform_limits_refusals_total", "agentplatform_limit=\"requests\"");
        Expect(api, "agentplatform_limits_refusals_total", "agentplatform_limit=\"budget\"");
        // In flight now.
        Expect(api, "agentplatform_requests_active");
        Expect(api, "agentplatform_streams_active");
        Expect(router, "agentplatform_router_deployment_in_flight", "agentplatform_deployment=\"slow-sim\"");
        // The Router: attempts and their latency, provider tokens, breaker state and rejections, retries, fallbacks.
        Expect(router, "agentplatform_router_requests_total", "agentplatform_outcome=\"success\"");
        Expect(router, "agentplatform_router_requests_total", "agentplatform_outcome=\"refused\"");
        Expect(router, "gen_ai_client_operation_duration_seconds_count");
        Expect(router, "gen_ai_client_token_usage_count", "gen_ai_token_type=\"input\"");
        Expect(router, "agentplatform_router_breaker_state", "agentplatform_deployment=\"faulty-sim\"");
        Expect(router, "agentplatform_router_breaker_transitions_total", "agentplatform_breaker_state=\"open\"");
        Expect(router, "agentplatform_router_breaker_rejections_total", "agentplatform_deployment=\"faulty-sim\"");
        Expect(router, "agentplatform_router_retries_total", "agentplatform_deployment=\"faulty-sim\"");
        Expect(router, "agentplatform_router_fallbacks_total", "agentplatform_fallback_model=\"priced\"");
        Assert.True(missing.Count == 0, $"Zero or absent: {string.Join("; ", missing)}");

        Assert.Equal(2, router.Max("agentplatform_router_breaker_state", "agentplatform_deployment=\"faulty-sim\"")); // open
        // The spool is empty while Redis keeps up; its depth is there to be watched.
        Assert.True(api.Has("agentplatform_usage_spool_depth"));
        // Bounded tags only: no key, no prompt.
        Assert.DoesNotContain(key, api.Text);
        Assert.DoesNotContain("cache me", api.Text);
    }

    private static async Task ChatAsync(HttpClient client, string body)
    {
        using var response = await client.PostAsync("/v1/chat/completions", Json.Body(body));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task SpendUntilAsync(HttpClient client, HttpStatusCode refusal)
    {
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions",
                Json.Body($$"""{"model":"priced","messages":[{"role":"user","content":"spend {{i}}"}]}"""));
            if (response.StatusCode == refusal)
            {
                return;
            }
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Fail($"never refused with {refusal}");
    }
}

/// <summary>
/// Redis; simulators priced (with provider prompt caching), faulty (always 500) and slow; a Router
/// with groups <c>priced</c>, <c>pair</c> (faulty first, then healthy), <c>broken</c> (faulty only,
/// falling back to <c>priced</c>) and <c>slow</c>; one Api caching <c>priced</c>. The Router and the Api
/// run as their own processes: OpenTelemetry collects every meter of a name in a process, so in the
/// test process their scrapes would mix with the other tests' Routers and Apis (and lose series when
/// those stop).
/// </summary>
public sealed class MetricsCoverageFixture : IAsyncLifetime
{
    private TestRedis _redis = null!;
    private readonly List<IAsyncDisposable> _simulators = [];

    public ServiceProcess Router { get; private set; } = null!;

    public ServiceProcess Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _redis = await TestRedis.StartAsync();
        var priced = Simulator(new() { ["Simulator:PromptCaching"] = "true" });
        var healthy = Simulator(new());
        var faulty = Simulator(new() { ["Simulator:Faults:0:Kind"] = "500", ["Simulator:Faults:0:Rate"] = "1" });
        // A stream of 400 tokens a quarter second apart: still going however long the scrapes take.
        var slow = Simulator(new() { ["Simulator:TokenIntervalMs"] = "250", ["Simulator:OutputTokens"] = "400" });
        Router = await ServiceProcess.StartAsync("AgentPlatform.Router", new RouterSettings
        {
            { "ConnectionStrings:cache", _redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "Router:Retry:BaseDelayMs", "10" },
            { "Router:CircuitBreaker:ConsecutiveFailures", "2" },
            { "Router:CircuitBreaker:BreakDurationSeconds", "60" },
            { "priced", new ModelGroupOptions { Deployments = [new() { Name = "priced-sim", BaseUrl = $"{priced.BaseAddress}v1", Model = "sim-model", InputPricePerMillion = 1000, CachedInputPricePerMillion = 100, OutputPricePerMillion = 1000 }] } },
            { "pair", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("faulty-sim", faulty.BaseAddress), RouterSettings.Deployment("healthy-sim", healthy.BaseAddress, priority: 1)] } },
            { "broken", new ModelGroupOptions { Fallbacks = ["priced"], Deployments = [RouterSettings.Deployment("broken-sim", faulty.BaseAddress)] } },
            { "slow", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("slow-sim", slow.BaseAddress)] } },
        });
        Api = await ServiceProcess.StartAsync("AgentPlatform.Api", PlatformFixture.ApiSettings(_redis, Router.BaseAddress, new Dictionary<string, string?>
        {
            ["Cache:ModelGroups:priced:Enabled"] = "true",
        }));
    }

    private KestrelApp<SimulatorOptions> Simulator(Dictionary<string, string?> settings)
    {
        var simulator = PlatformFixture.StartSimulator(settings);
        _simulators.Add(simulator);
        return simulator;
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        foreach (var simulator in _simulators)
        {
            await simulator.DisposeAsync();
        }
        await _redis.DisposeAsync();
    }
}
