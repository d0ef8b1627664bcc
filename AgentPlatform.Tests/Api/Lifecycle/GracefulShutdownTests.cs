using System.Diagnostics;
using System.Net;
using System.Text;
using AgentPlatform.Api;
using AgentPlatform.Api.Caching;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Lifecycle;

/// <summary>
/// SIGTERM to a real Api process while streams are in flight: it turns unready at once, takes no new
/// requests, lets the streams finish (or ends them with an error event when the drain time is over),
/// writes every usage record and exits.
/// </summary>
[Collection(ShutdownCollection.Name)]
public sealed class GracefulShutdownTests(ShutdownFixture fixture)
{
    [Fact]
    public async Task On_SIGTERM_a_hundred_streams_in_flight_finish_are_all_recorded_and_the_process_exits_within_the_drain()
    {
        var (tenantId, keyId, key) = await fixture.NewKeyAsync();
        await using var api = await fixture.StartApiProcessAsync(drainSeconds: 20);
        using var client = api.Client(key);

        // Twenty tokens a tenth of a second apart: each stream lasts about two seconds.
        var streams = Enumerable.Range(0, 100).Select(i => StreamAsync(client, $"Stream {i}, please")).ToList();
        await Task.WhenAll(streams.Select(s => s.Started));
        var signalled = Stopwatch.StartNew();
        api.Terminate();

        // Unready from the moment the process has the signal (it says so at once): the probe is refused or
        // fails, never passes. (A probe sent in the instant before the signal arrives may still pass.)
        await api.WaitForOutputAsync("Shutting down: unready now", TimeSpan.FromSeconds(5));
        for (var i = 0; i < 10; i++)
        {
            Assert.NotEqual(HttpStatusCode.OK, await api.HealthAsync());
            await Task.Delay(50);
        }

        var answers = await Task.WhenAll(streams.Select(s => s.Ended));
        Assert.All(answers, answer =>
        {
            Assert.DoesNotContain("\"error\"", answer);
            Assert.EndsWith("data: [DONE]\n\n", answer);
        });
        Assert.True(await api.ExitedWithinAsync(TimeSpan.FromSeconds(20)), "the process did not exit within the drain timeout");
        Assert.True(signalled.Elapsed < TimeSpan.FromSeconds(20), $"exited {signalled.Elapsed} after the signal");
        Assert.Equal(0, api.ExitCode);

        using var admin = ApiCalls.Admin(fixture.Api);
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: 100);
        Assert.Equal(100, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal("success", r.GetProperty("outcome").GetString());
            Assert.Equal(tenantId, r.GetProperty("tenantId").GetString());
            Assert.Equal(20, r.GetProperty("completionTokens").GetInt64());
        });
    }

    [Fact]
    public async Task Streams_still_open_when_the_drain_ends_get_an_error_event_and_are_recorded_as_interrupted()
    {
        var (_, keyId, key) = await fixture.NewKeyAsync();
        await using var api = await fixture.StartApiProcessAsync(drainSeconds: 1);
        using var client = api.Client(key);

        // Two hundred tokens a tenth of a second apart: twenty seconds, far past the one-second drain.
        var streams = Enumerable.Range(0, 10)
            .Select(i => StreamAsync(client, $"A long one {i}", extra: ",\"max_tokens\":200")).ToList();
        await Task.WhenAll(streams.Select(s => s.Started));
        var signalled = Stopwatch.StartNew();
        api.Terminate();

        var answers = await Task.WhenAll(streams.Select(s => s.Ended));
        Assert.All(answers, answer =>
        {
            Assert.Contains("\"code\":\"shutting_down\"", answer);
            Assert.DoesNotContain("[DONE]", answer);
        });
        Assert.True(await api.ExitedWithinAsync(TimeSpan.FromSeconds(10)), "the process did not exit after the drain");
        Assert.True(signalled.Elapsed < TimeSpan.FromSeconds(10), $"exited {signalled.Elapsed} after the signal");

        using var admin = ApiCalls.Admin(fixture.Api);
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: 10);
        Assert.Equal(10, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal("interrupted", r.GetProperty("outcome").GetString());
            // What the client got before the cut is counted (estimated: no usage arrived).
            Assert.InRange(r.GetProperty("completionTokens").GetInt64(), 1, 199);
        });
    }

    [Fact]
    public async Task A_request_waiting_for_another_replicas_cache_fill_is_answered_shutting_down_when_the_drain_ends()
    {
        var (_, _, key) = await fixture.NewKeyAsync();
        await using var filling = fixture.StartApi(drainSeconds: 30, cache: true);
        await using var stopping = fixture.StartApi(drainSeconds: 1, cache: true);
        using var fillingClient = ApiCalls.Client(filling, key);
        using var stoppingClient = ApiCalls.Client(stopping, key);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var server = redis.GetServer(redis.GetEndPoints().Single());
        const string Body = """{"model":"slow","messages":[{"role":"user","content":"Filled slowly by the other replica"}],"max_tokens":600}""";

        // Six hundred tokens a tenth of a second apart: the other replica fills the entry for a minute,
        // longer than the wait can last, so only the drain's end can answer the waiter.
        using var stopFilling = new CancellationTokenSource();
        var fill = fillingClient.PostAsync("/v1/chat/completions", Json.Body(Body), stopFilling.Token);
        await WaitForAsync(() => server.Keys(pattern: $"{ResponseCache.KeyPrefix}*:fill").Any(), fill);
        var waiter = stoppingClient.PostAsync("/v1/chat/completions", Json.Body(Body));
        await WaitForAsync(() => server.Keys(pattern: $"{ResponseCache.KeyPrefix}*:waiting").Any(), waiter);
        stopping.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        using var answer = await waiter.WaitAsync(Eventually.Soon);
        var fillStillGoing = !fill.IsCompleted;
        await stopFilling.CancelAsync();
        await fill.ContinueWith(static t => t.Exception, TaskScheduler.Default); // ended by the test: how is not what it tests

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Equal("shutting_down", (await Json.ReadErrorAsync(answer)).GetProperty("code").GetString());
        Assert.NotNull(answer.Headers.RetryAfter);
        Assert.True(fillStillGoing, "the other replica's fill ended first: the drain did not answer the waiter");
    }

    /// <summary>Polls until the condition holds; fails if the request it waits on ends first.</summary>
    private static Task WaitForAsync(Func<bool> condition, Task request) =>
        Eventually.TrueAsync(() =>
        {
            Assert.False(request.IsCompleted, "the request ended before the state it should make was seen");
            return condition();
        }, "the state the request should make");

    [Fact]
    public async Task A_Router_that_is_stopping_is_unready_at_once_and_ends_streams_left_at_its_deadline_with_an_error_event()
    {
        await using var router = fixture.StartRouter(drainSeconds: 1);
        using var client = router.CreateHttpClient();
        var streams = Enumerable.Range(0, 5)
            .Select(i => StreamAsync(client, $"Router stream {i}", extra: ",\"max_tokens\":200")).ToList();
        await Task.WhenAll(streams.Select(s => s.Started));

        // What SIGTERM does: the host is asked to stop.
        router.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        var health = await router.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Equal(HealthStatus.Unhealthy, health.Entries["shutdown"].Status);
        var answers = await Task.WhenAll(streams.Select(s => s.Ended)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(answers, answer =>
        {
            Assert.Contains("\"code\":\"stream_interrupted\"", answer);
            Assert.Contains("shutting down", answer);
        });
    }

    private sealed record Streaming(Task Started, Task<string> Ended);

    /// <summary>Sends a streaming chat completion; <c>Started</c> completes with its first event, <c>Ended</c> with everything it got.</summary>
    private static Streaming StreamAsync(HttpClient client, string message, string extra = "")
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<string> ReadAsync()
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = Json.Body($$"""{"model":"slow","stream":true,"messages":[{"role":"user","content":"{{message}}"}]{{extra}}}"""),
                };
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await using var body = await response.Content.ReadAsStreamAsync();
                var text = new StringBuilder();
                var buffer = new byte[4096];
                int read;
                while ((read = await body.ReadAsync(buffer)) > 0)
                {
                    text.Append(Encoding.UTF8.GetString(buffer, 0, read));
                    if (text.ToString().Contains("\"content\":", StringComparison.Ordinal))
                    {
                        started.TrySetResult();
                    }
                }
                return text.ToString();
            }
            catch (Exception exception)
            {
                started.TrySetException(exception);
                throw;
            }
        }
        return new Streaming(started.Task, ReadAsync());
    }
}

/// <summary>Redis, a simulator streaming a token a tenth of a second, a Router, and an in-process Api for the admin API.</summary>
public sealed class ShutdownFixture : IAsyncLifetime
{
    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> Simulator { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        Simulator = PlatformFixture.StartSimulator(new Dictionary<string, string?>
        {
            ["Simulator:OutputTokens"] = "20",
            ["Simulator:TokenIntervalMs"] = "100",
        });
        Router = StartRouter(drainSeconds: 30);
        Api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress)).Start();
    }

    /// <summary>A Router with the slow group and the given drain time (the fixture's own, or one for a test that stops it).</summary>
    public KestrelApp<RouterOptions> StartRouter(double drainSeconds) => new KestrelApp<RouterOptions>(new RouterSettings
    {
        { "ConnectionStrings:cache", Redis.ConnectionString },
        { "Logging:LogLevel:Default", "Warning" },
        { "Shutdown:DrainTimeoutSeconds", drainSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        { "slow", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("slow-sim", Simulator.BaseAddress)] } },
    }).Start();

    /// <summary>An in-process Api on this fixture's Redis and Router, with its own drain time and, when asked, the response cache.</summary>
    public KestrelApp<ApiOptions> StartApi(double drainSeconds, bool cache) => new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress, new Dictionary<string, string?>
    {
        ["Shutdown:DrainTimeoutSeconds"] = drainSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Cache:Enabled"] = cache ? "true" : "false",
    })).Start();

    /// <summary>An Api of its own process on this fixture's Redis and Router, so a real SIGTERM can be sent to it.</summary>
    public Task<ServiceProcess> StartApiProcessAsync(double drainSeconds) => ServiceProcess.StartAsync("AgentPlatform.Api", new Dictionary<string, string?>
    {
        ["ConnectionStrings:cache"] = Redis.ConnectionString,
        ["services:router:http:0"] = Router.BaseAddress.ToString(),
        ["AgentPlatform:MasterKey"] = PlatformFixture.MasterKey,
        ["Shutdown:DrainTimeoutSeconds"] = drainSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Logging:LogLevel:Default"] = "Information",
    });

    public async Task<(string TenantId, string KeyId, string Key)> NewKeyAsync()
    {
        var tenantId = await ApiCalls.CreateTenantAsync(Api, new { name = $"shutdown-{Guid.NewGuid():N}" });
        var (keyId, key) = await ApiCalls.CreateKeyAsync(Api, tenantId, new { name = "drained", maxConcurrent = 500 });
        return (tenantId, keyId, key);
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        await Simulator.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ShutdownCollection : ICollectionFixture<ShutdownFixture>
{
    public const string Name = "shutdown";
}
