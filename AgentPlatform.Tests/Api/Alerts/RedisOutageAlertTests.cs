using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Alerts;

/// <summary>
/// Alerts about Redis itself, which alerting keeps its state in: with Redis away, the replica that was
/// evaluating notifies — once — that Redis is unreachable and that its usage spool is growing, and
/// both resolve once Redis is back. (Its own fixture: it takes Redis away.)
/// </summary>
public sealed class RedisOutageAlertTests(RedisOutageAlertFixture fixture) : IClassFixture<RedisOutageAlertFixture>
{
    [Fact]
    public async Task A_replica_that_reports_its_spool_over_the_threshold_long_enough_is_alerted_by_the_evaluating_one()
    {
        // Another replica's report, as it writes it each round (its spool cannot fill here while Redis takes writes).
        var store = fixture.First.Services.GetRequiredService<AlertStore>();
        var replica = $"elsewhere:1:{Guid.NewGuid().ToString("N")[..6]}";
        var fingerprint = $"spool|replica|{replica}";
        await store.PublishReplicaAsync(replica, new ReplicaReport
        {
            At = DateTimeOffset.UtcNow,
            SpoolDepth = 40,
            SpoolOverSince = new() { ["spool"] = DateTimeOffset.UtcNow.AddSeconds(-2) },
        });

        var fired = await fixture.Receiver.WaitForAsync(b => b.GetProperty("fingerprint").GetString() == fingerprint);
        Assert.Contains($"Replica {replica} has held at least 3 usage records in its spool", fired.GetProperty("summary").GetString());
        Assert.Equal("40", fired.GetProperty("labels").GetProperty("spoolDepth").GetString());

        await store.PublishReplicaAsync(replica, new ReplicaReport { At = DateTimeOffset.UtcNow, SpoolDepth = 0 });
        await fixture.Receiver.WaitForAsync(b => b.GetProperty("fingerprint").GetString() == fingerprint && b.GetProperty("status").GetString() == "resolved");
        Assert.Single(fixture.Receiver.All(b => b.GetProperty("fingerprint").GetString() == fingerprint && b.GetProperty("status").GetString() == "firing"));
    }

    [Fact]
    public async Task With_Redis_away_one_replica_notifies_it_and_its_growing_spool_once_and_both_resolve_when_it_is_back()
    {
        static bool Is(JsonElement b, string rule, string status) =>
            b.GetProperty("rule").GetString() == rule && b.GetProperty("status").GetString() == status;

        await AlertRounds.LeaderAsync(fixture.First, fixture.Second);
        using var first = ApiCalls.Admin(fixture.First);
        using var second = ApiCalls.Admin(fixture.Second);
        // Each replica has authenticated a client before Redis goes (one it never saw gets 503 and, unauthenticated, leaves no record).
        foreach (var client in new[] { first, second })
        {
            using var warm = await client.PostAsync("/v1/chat/completions", Json.Chat());
            Assert.Equal(System.Net.HttpStatusCode.OK, warm.StatusCode);
        }
        var outage = fixture.Redis.RestartAsync(downFor: TimeSpan.FromSeconds(10));
        var connections = new[] { fixture.First, fixture.Second }.Select(api => api.Services.GetRequiredService<IConnectionMultiplexer>()).ToList();
        await Eventually.TrueAsync(() => connections.All(c => !c.IsConnected), "both replicas to lose Redis");
        // Requests go on meanwhile; their usage records wait in each replica's spool.
        var traffic = Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? first : second).PostAsync("/v1/chat/completions", Json.Chat());
        }));

        var down = await fixture.Receiver.WaitForAsync(b => Is(b, "redis", "firing"), TimeSpan.FromSeconds(9));
        var replica = down.GetProperty("labels").GetProperty("replica").GetString()!;
        // The deciding replica's own spool: the only one it can see without Redis.
        var spool = await fixture.Receiver.WaitForAsync(b => Is(b, "spool", "firing") && b.GetProperty("fingerprint").GetString() == $"spool|replica|{replica}",
            TimeSpan.FromSeconds(9));
        Assert.Contains("Redis has been unreachable since", down.GetProperty("summary").GetString());
        Assert.True(int.Parse(spool.GetProperty("labels").GetProperty("spoolDepth").GetString()!) >= 3);

        await outage;
        await traffic;
        var up = await fixture.Receiver.WaitForAsync(b => Is(b, "redis", "resolved"), TimeSpan.FromSeconds(30));
        await fixture.Receiver.WaitForAsync(b => Is(b, "spool", "resolved") && b.GetProperty("fingerprint").GetString() == $"spool|replica|{replica}",
            TimeSpan.FromSeconds(30));
        await AlertRounds.PassAsync(3, fixture.First, fixture.Second);

        Assert.Equal("redis|redis", up.GetProperty("fingerprint").GetString());
        // Two replicas, one notification each way.
        Assert.Single(fixture.Receiver.All(b => Is(b, "redis", "firing")));
        Assert.Single(fixture.Receiver.All(b => Is(b, "redis", "resolved")));
        foreach (var fingerprint in fixture.Receiver.All(b => b.GetProperty("rule").GetString() == "spool").Select(b => b.GetProperty("fingerprint").GetString()).Distinct())
        {
            Assert.Single(fixture.Receiver.All(b => b.GetProperty("fingerprint").GetString() == fingerprint && Is(b, "spool", "firing")));
        }
        // What was decided without Redis is in the history now, with its delivery.
        var history = (await first.GetFromJsonAsync<JsonElement>("/admin/v1/alerts/history?limit=100")).GetProperty("data").EnumerateArray()
            .Where(e => e.GetProperty("fingerprint").GetString() == "redis|redis").Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Equal(1, history.Count(e => e == "fired"));
        Assert.Equal(1, history.Count(e => e == "resolved"));
        Assert.Equal(4, history.Count(e => e == "delivered")); // fired and resolved, each to two webhooks
    }
}

/// <summary>Redis, a simulator behind a Router, a webhook receiver, and two Api replicas with the Redis and spool rules (1 s, 3 records).</summary>
public sealed class RedisOutageAlertFixture : IAsyncLifetime
{
    public TestRedis Redis { get; private set; } = null!;
    public WebhookReceiver Receiver { get; private set; } = null!;
    public KestrelApp<ApiOptions> First { get; private set; } = null!;
    public KestrelApp<ApiOptions> Second { get; private set; } = null!;
    private KestrelApp<SimulatorOptions> _simulator = null!;
    private KestrelApp<RouterOptions> _router = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        Receiver = await WebhookReceiver.StartAsync();
        _simulator = PlatformFixture.StartSimulator();
        _router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", Redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "default", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim", _simulator.BaseAddress)] } },
        }).Start();
        First = StartApi();
        Second = StartApi();
    }

    private KestrelApp<ApiOptions> StartApi() => new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, _router.BaseAddress, Receiver.AlertSettings(new Dictionary<string, string?>
    {
        ["Alerts:Rules:0:Name"] = "redis",
        ["Alerts:Rules:0:Kind"] = "redis_unreachable",
        ["Alerts:Rules:0:ForSeconds"] = "1",
        ["Alerts:Rules:1:Name"] = "spool",
        ["Alerts:Rules:1:Kind"] = "spool_growing",
        ["Alerts:Rules:1:ThresholdRecords"] = "3",
        ["Alerts:Rules:1:ForSeconds"] = "1",
    }))).Start();

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
        await _router.DisposeAsync();
        await _simulator.DisposeAsync();
        await Receiver.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
