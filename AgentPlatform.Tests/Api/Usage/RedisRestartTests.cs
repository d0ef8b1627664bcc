using System.Net;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Api.Usage;

/// <summary>Redis restarted under load: no usage record lost, limits carry on where they were. (Its own fixture: it takes Redis away.)</summary>
public sealed class RedisRestartTests(TenancyFixture fixture) : IClassFixture<TenancyFixture>
{
    [Fact]
    public async Task Redis_restarted_during_a_load_run_loses_no_usage_record_and_limits_resume()
    {
        using var admin = fixture.Admin();
        var tenantId = await fixture.CreateTenantAsync(new { name = "Through a restart" });
        var (_, limited) = await fixture.CreateKeyAsync(tenantId, new { name = "fifty a minute", rpm = 50 });
        var (_, loaded) = await fixture.CreateKeyAsync(tenantId, new { name = "under load", rpm = 100_000 });
        using var limitedClient = TenancyFixture.Client(fixture.First, limited);
        using var onFirst = TenancyFixture.Client(fixture.First, loaded);
        using var onSecond = TenancyFixture.Client(fixture.Second, loaded);
        for (var i = 0; i < 30; i++)
        {
            using var response = await limitedClient.PostAsync("/v1/chat/completions", Json.Chat());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        // Both replicas know the loaded key before Redis goes away. Otherwise, on a busy machine, the load's
        // first request to the second replica could still be on its way when Redis stops: a key a replica has
        // never seen is refused with 503 keys_unavailable, and that record has no tenant to be counted under.
        foreach (var replica in new[] { onFirst, onSecond })
        {
            using var response = await replica.PostAsync("/v1/chat/completions", Json.Chat());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // A steady load; Redis goes away for 6 s in the middle of it.
        var statuses = new List<HttpStatusCode>();
        var unavailableWithoutRetryAfter = 0;
        var load = Task.Run(async () =>
        {
            for (var round = 0; round < 80; round++)
            {
                var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
                {
                    using var response = await (i % 2 == 0 ? onFirst : onSecond).PostAsync("/v1/chat/completions", Json.Chat(stream: i == 3));
                    await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is null)
                    {
                        Interlocked.Increment(ref unavailableWithoutRetryAfter);
                    }
                    return response.StatusCode;
                }));
                lock (statuses)
                {
                    statuses.AddRange(answers);
                }
                await Task.Delay(50);
            }
        });
        await Eventually.TrueAsync(() => { lock (statuses) { return statuses.Count >= 40; } }, "the load's first ten rounds before Redis goes");
        await fixture.Redis.RestartAsync(downFor: TimeSpan.FromSeconds(6)); // longer than the Redis client waits for a command
        await load;

        var records = await ApiCalls.LedgerAsync(admin, $"tenantId={tenantId}", expected: 30 + 2 + 320);
        Assert.Equal(30 + 2 + 320, records.Count);
        // A request that arrived while Redis was down waited for it (the client queues commands while it
        // reconnects) or, past that, was refused with 503; either way its record is in the ledger.
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable,
            $"{s}; the Api's errors: {string.Join(" | ", fixture.Logs.Logs.Where(l => l.Level >= LogLevel.Error).Select(l => $"{l.Message} {l.Exception}"))}"));
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.ServiceUnavailable), records.Count(r => r.GetProperty("status").GetInt32() == 503));
        Assert.Equal(0, unavailableWithoutRetryAfter); // a 503 tells the client when to try again
        Assert.True(statuses.Count(s => s == HttpStatusCode.OK) > 100, "the load went on after the restart");

        // The 30 requests before the restart still count against the key's 50 a minute.
        var after = new List<HttpStatusCode>();
        for (var i = 0; i < 40; i++)
        {
            using var response = await limitedClient.PostAsync("/v1/chat/completions", Json.Chat());
            after.Add(response.StatusCode);
        }
        Assert.Equal(20, after.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(20, after.Count(s => s == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task While_Redis_is_away_a_known_key_is_still_recognised_and_an_unknown_one_gets_503_not_500()
    {
        var tenantId = await fixture.CreateTenantAsync(new { name = "Keys without Redis" });
        var (_, known) = await fixture.CreateKeyAsync(tenantId, new { name = "known" });
        var (_, unseen) = await fixture.CreateKeyAsync(tenantId, new { name = "never used yet" });
        using var knownClient = TenancyFixture.Client(fixture.First, known);
        using var unseenClient = TenancyFixture.Client(fixture.First, unseen);
        using (var first = await knownClient.PostAsync("/v1/chat/completions", Json.Chat()))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var restart = fixture.Redis.RestartAsync(downFor: TimeSpan.FromSeconds(10)); // longer than the Redis client waits for a command
        var connection = fixture.First.Services.GetRequiredService<IConnectionMultiplexer>();
        await Eventually.TrueAsync(() => !connection.IsConnected, "the replica to lose Redis");
        using var knownWhileAway = await knownClient.PostAsync("/v1/chat/completions", Json.Chat());
        using var unseenWhileAway = await unseenClient.PostAsync("/v1/chat/completions", Json.Chat());
        await restart;

        // The known key is unlimited: it needs no Redis to be answered.
        Assert.Equal(HttpStatusCode.OK, knownWhileAway.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unseenWhileAway.StatusCode);
        Assert.Equal("keys_unavailable", (await Json.ReadErrorAsync(unseenWhileAway)).GetProperty("code").GetString());
        using var unseenAfter = await unseenClient.PostAsync("/v1/chat/completions", Json.Chat());
        Assert.Equal(HttpStatusCode.OK, unseenAfter.StatusCode);
    }
}
