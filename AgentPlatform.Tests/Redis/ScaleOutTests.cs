using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace AgentPlatform.Tests.Redis;

/// <summary>
/// The platform scaled out as a busy deployment runs it: four Api and three Router processes on the Redis
/// Cluster, clients behind a load balancer. The limits a user relies on hold across all of them.
/// </summary>
[Collection(HeavyLoadCollection.Name)]
public sealed class ScaleOutTests(ScaleOutFixture platform, ITestOutputHelper output) : IClassFixture<ScaleOutFixture>
{
    [Fact]
    public async Task A_keys_requests_per_minute_are_exact_across_four_Api_replicas()
    {
        var (_, key) = await platform.NewKeyAsync(new { name = "rpm", rpm = 100 });
        using var client = platform.Balancer.Client(key);

        var statuses = await SendAsync(client, count: 300, concurrency: 50, _ => Json.Chat(extra: ",\"max_tokens\":5"));

        output.WriteLine($"{statuses.Count(s => s == HttpStatusCode.OK)} of 300 served; connections per Api: {string.Join(", ", platform.Balancer.Connections.Values)}");
        Assert.Equal(100, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(200, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.All(platform.Apis, api => Assert.True(platform.Balancer.Connections.GetValueOrDefault(api.BaseAddress) > 0, $"no connection went to {api.BaseAddress}"));
    }

    [Fact]
    public async Task A_five_cent_budget_under_500_concurrent_requests_ends_within_it()
    {
        var (keyId, key) = await platform.NewKeyAsync(new { name = "budget", budgetUsd = 0.05m });
        using var client = platform.Balancer.Client(key);

        // All at once, each a different question (about a tenth of a cent each: ~20 tokens at $50 per million).
        var statuses = await SendAsync(client, count: 500, concurrency: 500, i => Json.Chat(extra: $",\"max_tokens\":10,\"user\":\"u{i}\""));

        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.PaymentRequired }));
        using var admin = ApiCalls.Admin(platform.Apis[0]);
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: statuses.Length);
        var spent = records.Sum(r => r.GetProperty("costUsd").GetDecimal());
        output.WriteLine($"{statuses.Count(s => s == HttpStatusCode.OK)} of 500 served, ${spent} spent of $0.05");
        Assert.InRange(spent, 0.03m, 0.05m);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.OK), records.Count(r => r.GetProperty("outcome").GetString() == "success"));
    }

    [Fact]
    public async Task Two_hundred_identical_concurrent_requests_with_the_cache_on_reach_the_provider_once()
    {
        var (_, key) = await platform.NewKeyAsync(new { name = "cache" });
        using var client = platform.Balancer.Client(key);
        var before = await platform.SimulatorRequestsAsync();
        var question = $"What is the answer, asked by {Guid.NewGuid():N}?";

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var response = await client.PostAsync("/v1/chat/completions",
                Json.Body($$"""{"model":"cached","messages":[{"role":"user","content":"{{question}}"}]}"""));
            return (response.StatusCode, Content: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Single(answers.Select(a => JsonDocument.Parse(a.Content).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()).Distinct());
        Assert.Equal(before + 1, await platform.SimulatorRequestsAsync());
    }

    private static async Task<HttpStatusCode[]> SendAsync(HttpClient client, int count, int concurrency, Func<int, HttpContent> body)
    {
        var statuses = new HttpStatusCode[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, _) =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", body(i));
            statuses[i] = response.StatusCode;
        });
        return statuses;
    }
}

/// <summary>Four Api and three Router processes on a six-node Redis Cluster, one simulator behind them.</summary>
public sealed class ScaleOutFixture : IAsyncLifetime
{
    private TestRedisCluster _cluster = null!;
    private KestrelApp<AgentPlatform.Simulator.SimulatorOptions> _simulator = null!;
    private readonly List<ServiceProcess> _routers = [];

    public List<ServiceProcess> Apis { get; } = [];

    public RoundRobinBalancer Balancer { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _cluster = await TestRedisCluster.StartAsync();
        _simulator = PlatformFixture.StartSimulator();
        var priced = RouterSettings.Priced(RouterSettings.Deployment("sim", _simulator.BaseAddress), 50, 50);
        var routerSettings = new RouterSettings
        {
            { "ConnectionStrings:cache", _cluster.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "default", new ModelGroupOptions { Deployments = [priced] } },
            { "cached", new ModelGroupOptions { Deployments = [priced] } },
        };
        var starting = Enumerable.Range(0, 3).Select(_ => ServiceProcess.StartAsync("AgentPlatform.Router", routerSettings)).ToList();
        _routers.AddRange(await Task.WhenAll(starting));
        var apiSettings = PlatformFixture.ApiSettings(_cluster.ConnectionString, _routers[0].BaseAddress, new Dictionary<string, string?>
        {
            ["services:router:http:1"] = _routers[1].BaseAddress.ToString(),
            ["services:router:http:2"] = _routers[2].BaseAddress.ToString(),
            ["Cache:ModelGroups:cached:Enabled"] = "true",
        });
        Apis.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ServiceProcess.StartAsync("AgentPlatform.Api", apiSettings))));
        Balancer = new RoundRobinBalancer(Apis);
    }

    /// <summary>A new tenant's key with <paramref name="limits"/> (a tenant per test: their limits never meet).</summary>
    public async Task<(string Id, string Key)> NewKeyAsync(object limits)
    {
        var tenantId = await ApiCalls.CreateTenantAsync(Apis[0], new { name = $"scale-{Guid.NewGuid():N}" });
        return await ApiCalls.CreateKeyAsync(Apis[0], tenantId, limits);
    }

    /// <summary>How many completions the simulator has been asked for.</summary>
    public async Task<long> SimulatorRequestsAsync()
    {
        using var client = _simulator.CreateHttpClient();
        return (await client.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt64();
    }

    public async Task DisposeAsync()
    {
        foreach (var service in Apis.Concat(_routers))
        {
            await service.DisposeAsync();
        }
        await _simulator.DisposeAsync();
        await _cluster.DisposeAsync();
    }
}
