using System.Net;
using AgentPlatform.Api;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AgentPlatform.Tests.Api.Lifecycle;

/// <summary>
/// One of two Router replicas dies (<c>kill -9</c>) while streams run through it: each of them ends at
/// the client with an error event it can read, is recorded as interrupted, and every request after it
/// goes to the replica left, with no error.
/// </summary>
[Collection(HeavyLoadCollection.Name)]
public sealed class RouterReplicaLossTests
{
    private const int Streams = 60;

    [Fact]
    public async Task Streams_through_a_killed_Router_end_with_stream_interrupted_and_new_requests_go_to_the_one_left()
    {
        await using var redis = await TestRedis.StartAsync();
        // Two hundred tokens 50 ms apart: every stream is still going when the Router is killed.
        await using var simulator = PlatformFixture.StartSimulator(new Dictionary<string, string?>
        {
            ["Simulator:TokenIntervalMs"] = "50",
            ["Simulator:OutputTokens"] = "200",
        });
        var routerSettings = RouterSettings.OneSimulator(redis.ConnectionString, simulator.BaseAddress).Add("Logging:LogLevel:Default", "Warning");
        await using var doomed = await ServiceProcess.StartAsync("AgentPlatform.Router", routerSettings);
        await using var survivor = await ServiceProcess.StartAsync("AgentPlatform.Router", routerSettings);
        // The Api knows both replicas, as service discovery lists them.
        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(redis, doomed.BaseAddress, new Dictionary<string, string?>
        {
            ["services:router:http:1"] = survivor.BaseAddress.ToString(),
        })).Start();
        var tenantId = await ApiCalls.CreateTenantAsync(api, new { name = "Streaming" });
        var (_, key) = await ApiCalls.CreateKeyAsync(api, tenantId, new { name = "streams" });
        using var client = ApiCalls.Client(api, key);
        client.Timeout = TimeSpan.FromSeconds(60);

        // The replicas are taken in turn: half the streams go through the one that dies.
        var streams = Enumerable.Range(0, Streams).Select(_ => StreamAsync(client)).ToList();
        await Task.WhenAll(streams.Select(s => s.Started)).WaitAsync(TimeSpan.FromSeconds(30));
        await doomed.KillAsync();
        var bodies = await Task.WhenAll(streams.Select(s => s.Ended)).WaitAsync(TimeSpan.FromSeconds(60));

        // After it, every request finds the replica left, the first one too.
        var after = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(extra: ",\"max_tokens\":5"));
            after.Add(response.StatusCode);
        }

        var interrupted = bodies.Where(body => body.Contains("\"code\":\"stream_interrupted\"", StringComparison.Ordinal)).ToList();
        var completed = bodies.Where(body => body.Contains("data: [DONE]", StringComparison.Ordinal)).ToList();
        Assert.Equal(Streams / 2, interrupted.Count);
        Assert.Equal(Streams / 2, completed.Count);
        Assert.All(interrupted, body =>
        {
            // A cut answer never looks complete, and the error event names the cause.
            Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
            Assert.Contains("the Router replica carrying it", body, StringComparison.Ordinal);
            Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        });
        Assert.All(after, status => Assert.Equal(HttpStatusCode.OK, status));
        // And the Api stays ready, whichever replica a probe would ask first: one answers.
        var healthChecks = api.Services.GetRequiredService<HealthCheckService>();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HealthStatus.Healthy, (await healthChecks.CheckHealthAsync()).Entries["router"].Status);
        }
        using var admin = ApiCalls.Admin(api);
        var records = await ApiCalls.LedgerAsync(admin, $"tenantId={tenantId}", expected: Streams + after.Count);
        Assert.Equal(Streams / 2, records.Count(r => r.GetProperty("outcome").GetString() == "interrupted"));
        Assert.Equal(Streams / 2 + after.Count, records.Count(r => r.GetProperty("outcome").GetString() == "success"));
    }

    private sealed record Streaming(Task Started, Task<string> Ended);

    /// <summary>Sends a streaming chat completion; <c>Started</c> completes with its first event, <c>Ended</c> with all it got.</summary>
    private static Streaming StreamAsync(HttpClient client)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<string> ReadAsync()
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
                {
                    Content = Json.Chat(stream: true),
                };
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await using var body = await response.Content.ReadAsStreamAsync();
                using var text = new MemoryStream();
                var buffer = new byte[4096];
                int read;
                while ((read = await body.ReadAsync(buffer)) > 0)
                {
                    text.Write(buffer, 0, read);
                    started.TrySetResult();
                }
                return System.Text.Encoding.UTF8.GetString(text.ToArray());
            }
            finally
            {
                started.TrySetResult(); // an answer that never began still lets the test go on (and fail on it)
            }
        }
        return new Streaming(started.Task, ReadAsync());
    }
}
