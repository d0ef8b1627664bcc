using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A Redis of its own (creating a key turns the master key into an admin-only credential, which the
/// other tests still use as a client key), a simulator, a Router and two Api replicas.
/// </summary>
public class TenancyFixture : IAsyncLifetime
{
    private RedisUnderTest _redis = null!;

    /// <summary>The one Redis node (for the tests that restart it); not there when the fixture runs on a cluster.</summary>
    public TestRedis Redis => _redis.Node;

    /// <summary>What the Api and the Router are given as <c>ConnectionStrings:cache</c>: one node, or a cluster's seeds.</summary>
    public string RedisConnectionString => _redis.ConnectionString;

    /// <summary>Whether the Api and the Router keep their state on a Redis Cluster rather than one node.</summary>
    protected virtual bool OnCluster => false;
    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SlowSimulator { get; private set; } = null!;

    /// <summary>Streams a token every 200 ms, so a client can leave mid-answer.</summary>
    public KestrelApp<SimulatorOptions> DribblingSimulator { get; private set; } = null!;

    /// <summary>Prices of the <c>priced</c> group's deployment, USD per million tokens.</summary>
    public const double InputPrice = 100, OutputPrice = 200;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> First { get; private set; } = null!;
    public KestrelApp<ApiOptions> Second { get; private set; } = null!;
    public CapturingLoggerProvider Logs { get; } = new();

    public async Task InitializeAsync()
    {
        _redis = await RedisUnderTest.StartAsync(OnCluster);
        Simulator = PlatformFixture.StartSimulator();
        SlowSimulator = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TimeToFirstTokenMs"] = "500" });
        DribblingSimulator = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:TokenIntervalMs"] = "200" });
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", RedisConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "default", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", Simulator.BaseAddress)] } },
            { "other", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", Simulator.BaseAddress)] } },
            { "slow", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("slow-sim", SlowSimulator.BaseAddress)] } },
            { "priced", new ModelGroupOptions { Deployments = [RouterSettings.Priced(RouterSettings.Deployment("priced-sim", Simulator.BaseAddress), InputPrice, OutputPrice)] } },
            { "dribble", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("dribbling-sim", DribblingSimulator.BaseAddress)] } },
            // The embeddings twins of default, priced and slow: the same controls, at the other door.
            { "embed", new ModelGroupOptions { Deployments = [RouterSettings.Embeddings(RouterSettings.Deployment("sim-embed", Simulator.BaseAddress))] } },
            { "slow-embed", new ModelGroupOptions { Deployments = [RouterSettings.Embeddings(RouterSettings.Deployment("slow-sim-embed", SlowSimulator.BaseAddress))] } },
            { "priced-embed", new ModelGroupOptions { Deployments = [RouterSettings.Embeddings(RouterSettings.Priced(RouterSettings.Deployment("priced-sim-embed", Simulator.BaseAddress), InputPrice, 0))] } },
            // A dead deployment, then the simulator: failover before the first byte, at every door.
            { "failover", new ModelGroupOptions { Deployments = [RouterSettings.Unreachable("down"), RouterSettings.Deployment("backup", Simulator.BaseAddress, priority: 1)] } },
            { "failover-embed", new ModelGroupOptions { Deployments = [RouterSettings.Embeddings(RouterSettings.Unreachable("down-embed")), RouterSettings.Embeddings(RouterSettings.Deployment("backup-embed", Simulator.BaseAddress, priority: 1))] } },
            { "failover-claude", new ModelGroupOptions { Deployments = [RouterSettings.Anthropic("down-claude", new Uri($"http://127.0.0.1:{FreePort.Next()}/")), RouterSettings.Anthropic("backup-claude", Simulator.BaseAddress, priority: 1)] } },
            // The Anthropic twins, for the Messages door: the simulators speaking Anthropic's API.
            { "claude", new ModelGroupOptions { Deployments = [RouterSettings.Anthropic("sim-claude", Simulator.BaseAddress)] } },
            { "slow-claude", new ModelGroupOptions { Deployments = [RouterSettings.Anthropic("slow-sim-claude", SlowSimulator.BaseAddress)] } },
            { "priced-claude", new ModelGroupOptions { Deployments = [RouterSettings.Priced(RouterSettings.Anthropic("priced-sim-claude", Simulator.BaseAddress), InputPrice, OutputPrice)] } },
        }).Start();
        First = StartApi();
        Second = StartApi();
    }

    private KestrelApp<ApiOptions> StartApi() => new KestrelApp<ApiOptions>(
        PlatformFixture.ApiSettings(RedisConnectionString, Router.BaseAddress, new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Information" }),
        services => services.AddSingleton<ILoggerProvider>(Logs)).Start();

    public HttpClient Admin(KestrelApp<ApiOptions>? api = null) => ApiCalls.Admin(api ?? First);

    public Task<string> CreateTenantAsync(object tenant) => ApiCalls.CreateTenantAsync(First, tenant);

    public Task<(string Id, string Key)> CreateKeyAsync(string tenantId, object key) => ApiCalls.CreateKeyAsync(First, tenantId, key);

    public static HttpClient Client(KestrelApp<ApiOptions> api, string key) => ApiCalls.Client(api, key);

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await SlowSimulator.DisposeAsync();
        await DribblingSimulator.DisposeAsync();
        await _redis.DisposeAsync();
    }
}

/// <summary>The same on a Redis Cluster of six nodes (<see cref="TestRedisCluster"/>), for the suites that must hold there too.</summary>
public sealed class ClusterTenancyFixture : TenancyFixture
{
    protected override bool OnCluster => true;
}
