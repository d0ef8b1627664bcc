using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Caching;

/// <summary>
/// Two Api replicas with the response cache on (global default), one Router that does not retry (so a
/// failed fill reaches the Api), and a simulator that takes 300 ms to answer, so identical requests
/// sent together overlap. Groups: <c>default</c>, <c>priced</c> (prices set), <c>uncached</c> (cache
/// turned off for the group), <c>tiny</c> (entries of at most 1 KiB).
/// </summary>
public class CacheFixture : IAsyncLifetime
{
    public const double InputPrice = 10, OutputPrice = 20;

    private RedisUnderTest _redis = null!;

    /// <summary>What the Api and the Router are given as <c>ConnectionStrings:cache</c>: one node, or a cluster's seeds.</summary>
    public string RedisConnectionString => _redis.ConnectionString;

    /// <summary>Whether the Api and the Router keep their state on a Redis Cluster rather than one node.</summary>
    protected virtual bool OnCluster => false;

    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> First { get; private set; } = null!;
    public KestrelApp<ApiOptions> Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisUnderTest.StartAsync(OnCluster);
        Simulator = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TimeToFirstTokenMs"] = "300" });
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", RedisConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "Router:Retry:MaxAttempts", "1" },
            { "default", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", Simulator.BaseAddress)] } },
            { "priced", new ModelGroupOptions { Deployments = [RouterSettings.Priced(RouterSettings.Deployment("priced-sim", Simulator.BaseAddress), InputPrice, OutputPrice)] } },
            { "tiny", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", Simulator.BaseAddress)] } },
            { "uncached", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", Simulator.BaseAddress)] } },
        }).Start();
        First = StartApi();
        Second = StartApi();
        // The first key turns the master key admin-only; every test then works with keys of its own tenant.
        await CreateKeyAsync(await CreateTenantAsync(new { name = "setup" }), new { name = "setup" });
    }

    private KestrelApp<ApiOptions> StartApi() => new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(RedisConnectionString, Router.BaseAddress, new Dictionary<string, string?>
    {
        ["Cache:Enabled"] = "true",
        ["Cache:ModelGroups:uncached:Enabled"] = "false",
        ["Cache:ModelGroups:tiny:MaxEntryBytes"] = "1024",
        // Short, so a fill that outlives its lease shows whether the lease is renewed (every third of it).
        // Not shorter: at 2 s the two thirds left as margin (1.3 s) were once not enough for a renewal
        // tick on a CI machine running the whole suite on two cores.
        ["Cache:FillLeaseSeconds"] = "4",
    })).Start();

    public HttpClient Admin() => ApiCalls.Admin(First);

    public Task<string> CreateTenantAsync(object tenant) => ApiCalls.CreateTenantAsync(First, tenant);

    public Task<(string Id, string Key)> CreateKeyAsync(string tenantId, object key) => ApiCalls.CreateKeyAsync(First, tenantId, key);

    /// <summary>A key of a new tenant (so its entries are its own).</summary>
    public async Task<(string TenantId, string Id, string Key)> NewKeyAsync(object? tenant = null, object? key = null)
    {
        var tenantId = await CreateTenantAsync(tenant ?? new { name = "tenant" });
        var (id, plaintext) = await CreateKeyAsync(tenantId, key ?? new { name = "key" });
        return (tenantId, id, plaintext);
    }

    public static HttpClient Client(KestrelApp<ApiOptions> api, string key) => ApiCalls.Client(api, key);

    /// <summary>Chat completions the simulator has received since the last reset.</summary>
    public async Task<int> UpstreamCallsAsync()
    {
        using var client = Simulator.CreateHttpClient();
        return (await client.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt32();
    }

    /// <summary>Requests the simulator is answering now.</summary>
    public async Task<int> UpstreamInFlightAsync()
    {
        using var client = Simulator.CreateHttpClient();
        return (await client.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("inFlight").GetInt32();
    }

    public async Task ResetSimulatorAsync()
    {
        using var client = Simulator.CreateHttpClient();
        await client.DeleteAsync("/sim/faults");
        await client.PostAsync("/sim/stats/reset", null);
    }

    public Task InjectAsync(object fault) => PlatformFixture.InjectFaultAsync(Simulator, fault);

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await _redis.DisposeAsync();
    }
}

/// <summary>The same on a Redis Cluster of six nodes (<see cref="TestRedisCluster"/>).</summary>
public sealed class ClusterCacheFixture : CacheFixture
{
    protected override bool OnCluster => true;
}
