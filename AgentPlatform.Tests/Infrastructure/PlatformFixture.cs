using System.Net.Http.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// The platform's services wired as in production, each on its own Kestrel port: a real Redis, two
/// simulators, a recording upstream, the Router and the Api. Model groups:
/// <c>default</c> (sim-a, sim-b), <c>recorded</c> (the recording upstream), <c>dead</c> (a port
/// nobody listens on) and <c>tiered</c> (a dead primary, sim-b as priority-1 backup).
/// </summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    public const string MasterKey = "test-master-key-0123456789abcdef";
    public const long MaxRequestBodyBytes = 64 * 1024;

    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimA { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimB { get; private set; } = null!;
    public RecordingUpstream Recorder { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> Api { get; private set; } = null!;
    public CapturingLoggerProvider RouterLogs { get; } = new();
    public CapturingLoggerProvider ApiLogs { get; } = new();

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        SimA = StartSimulator();
        SimB = StartSimulator();
        Recorder = await RecordingUpstream.StartAsync();

        // "skipping" is the default pool again for the one test that fails sim-a on purpose and needs it
        // picked: breakers are shared through Redis, and another test's open breaker on default's sim-a
        // would keep it from being tried at all.
        Router = StartRouter(new RouterSettings
        {
            { SkippingGroup, SimulatorGroupOptions() },
            { "default", SimulatorGroupOptions() },
            {
                "recorded", new ModelGroupOptions
                {
                    // A base URL ending in '/', and a model name that needs escaping in JSON.
                    Deployments = [new() { Name = "recorder", BaseUrl = $"{Recorder.BaseAddress}v1/", Model = "upstream-model \"quoted\"", ApiKey = "sk-provider-secret" }],
                }
            },
            { "dead", new ModelGroupOptions { Deployments = [RouterSettings.Unreachable("nobody")] } },
            {
                "tiered", new ModelGroupOptions
                {
                    Strategy = RoutingStrategyNames.LeastBusy,
                    Deployments = [RouterSettings.Unreachable("down"), RouterSettings.Deployment("backup", SimB.BaseAddress, priority: 1)],
                }
            },
        }, RouterLogs);

        Api = StartApi(Router.BaseAddress, ApiLogs);
    }

    /// <summary>A copy of the default pool (sim-a and sim-b) that one test fails sim-a of: see <see cref="InitializeAsync"/>.</summary>
    public const string SkippingGroup = "skipping";

    /// <summary>
    /// A Router on this fixture's Redis with the given model groups (and any other settings), and
    /// timeouts, backoffs and breaks short enough for tests.
    /// </summary>
    /// <param name="time">The Router's clock, when a test controls it (<see cref="SimulatedTime.Measuring"/>).</param>
    public KestrelApp<RouterOptions> StartRouter(
        IEnumerable<KeyValuePair<string, string?>> settings, CapturingLoggerProvider? logs = null, ReloadableConfiguration? reloadable = null,
        TimeProvider? time = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = Redis.ConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Router:Timeouts:FirstTokenSeconds"] = "1",
            ["Router:Timeouts:ResponseSeconds"] = "2",
            ["Router:Timeouts:IdleSeconds"] = "1",
            ["Router:Retry:BaseDelayMs"] = "20",
            ["Router:Retry:MaxDelayMs"] = "100",
            ["Router:CircuitBreaker:BreakDurationSeconds"] = "0.5",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }
        return new KestrelApp<RouterOptions>(all, services =>
        {
            if (logs is not null)
            {
                services.AddSingleton<ILoggerProvider>(logs);
            }
            if (time is not null)
            {
                services.AddSingleton(time);
            }
        }, reloadable).Start();
    }

    /// <summary>Settings for a model group of sim-a and sim-b (in that order).</summary>
    public Dictionary<string, string?> SimulatorGroup(string group) => new RouterSettings { { group, SimulatorGroupOptions() } }.ToDictionary();

    /// <summary>A model group of sim-a and sim-b, in that order.</summary>
    public ModelGroupOptions SimulatorGroupOptions() => new()
    {
        Deployments = [RouterSettings.Deployment("sim-a", SimA.BaseAddress), RouterSettings.Deployment("sim-b", SimB.BaseAddress)],
    };

    /// <summary>What every Api of the tests needs: its Redis, its Router, the master key, and logs at Warning; plus <paramref name="more"/>.</summary>
    public static Dictionary<string, string?> ApiSettings(TestRedis redis, Uri routerAddress, IReadOnlyDictionary<string, string?>? more = null) =>
        ApiSettings(redis.ConnectionString, routerAddress, more);

    /// <summary>An Api's settings on any Redis (a cluster's seed nodes, say).</summary>
    public static Dictionary<string, string?> ApiSettings(string redisConnectionString, Uri routerAddress, IReadOnlyDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = redisConnectionString,
            ["services:router:http:0"] = routerAddress.ToString(),
            ["AgentPlatform:MasterKey"] = MasterKey,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
    }

    public KestrelApp<ApiOptions> StartApi(Uri routerAddress, CapturingLoggerProvider? logs = null) =>
        new KestrelApp<ApiOptions>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = Redis.ConnectionString,
            ["services:router:http:0"] = routerAddress.ToString(),
            ["AgentPlatform:MasterKey"] = MasterKey,
            ["AgentPlatform:MaxRequestBodyBytes"] = MaxRequestBodyBytes.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
        }, services =>
        {
            if (logs is not null)
            {
                services.AddSingleton<ILoggerProvider>(logs);
            }
        }).Start();

    /// <summary>A simulator answering 8-word answers at once, with any other settings given.</summary>
    /// <param name="time">The simulator's clock, when a test controls it (<see cref="SimulatedTime.Waiting"/>).</param>
    public static KestrelApp<SimulatorOptions> StartSimulator(IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Simulator:OutputTokens"] = "8",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        return new KestrelApp<SimulatorOptions>(all, time is null ? null : services => services.AddSingleton(time)).Start();
    }

    /// <summary>Injects a fault into a simulator (<c>POST /sim/faults</c>): e.g. <c>new { kind = "500", rate = 1.0 }</c>.</summary>
    public static async Task InjectFaultAsync(IRunningService simulator, object fault)
    {
        using var client = simulator.CreateHttpClient();
        using var response = await client.PostAsJsonAsync("/sim/faults", fault);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    public static async Task ClearFaultsAsync(IRunningService simulator)
    {
        using var client = simulator.CreateHttpClient();
        using var response = await client.DeleteAsync("/sim/faults");
        Assert.True(response.IsSuccessStatusCode);
    }

    /// <summary>Both simulators without faults and with their counters at zero, as a test that uses them expects.</summary>
    public async Task ResetSimulatorsAsync()
    {
        foreach (var simulator in new[] { SimA, SimB })
        {
            using var client = simulator.CreateHttpClient();
            await client.DeleteAsync("/sim/faults");
            await client.PostAsync("/sim/stats/reset", null);
        }
    }

    /// <summary>How many chat requests <paramref name="simulator"/> has answered since its last reset.</summary>
    public static async Task<long> SimulatorRequestsAsync(IRunningService simulator)
    {
        using var client = simulator.CreateHttpClient();
        return (await client.GetFromJsonAsync<System.Text.Json.JsonElement>("/sim/stats")).GetProperty("requests").GetInt64();
    }

    /// <summary>A client of the Api that sends the master key.</summary>
    public HttpClient CreateApiClient()
    {
        var client = Api.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", MasterKey);
        return client;
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        await Recorder.DisposeAsync();
        await SimA.DisposeAsync();
        await SimB.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}

/// <summary>
/// For tests that judge by timing (latency-based routing): run alone, after the parallel collections,
/// so another collection's burst of hundreds of requests cannot make a fast simulator look slow.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "timing";
}

/// <summary>
/// For tests that load the whole machine (a Redis failover under eight busy clients, Router processes
/// killed mid-stream): run alone, after the parallel collections, so their load cannot make another
/// test's lease renewals or timers late.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeavyLoadCollection
{
    public const string Name = "heavy load";
}
