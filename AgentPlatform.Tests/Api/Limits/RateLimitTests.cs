using System.Net;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Limits;

/// <summary>
/// Requests per minute and concurrency: exact for a key and its tenant, across two Api replicas, on one
/// Redis node (<see cref="RateLimitTests"/>) and on a Redis Cluster.
/// </summary>
public abstract class RateLimitSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : TenancyFixture
{
    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/embeddings")]
    [InlineData("/v1/messages")]
    [InlineData("/v1/responses")]
    public async Task A_key_of_60_requests_a_minute_used_through_two_api_replicas_gets_exactly_60(string door)
    {
        var key = await CreateKeyAsync(tenant: new { name = "Busy" }, key: new { name = "sixty", rpm = 60 });
        using var first = TenancyFixture.Client(fixture.First, key);
        using var second = TenancyFixture.Client(fixture.Second, key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var response = await (i % 2 == 0 ? first : second).PostAsync(door, Json.AtDoor(door, extra: $",\"seed\":{i}"));
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta,
                Message: response.StatusCode == HttpStatusCode.OK ? null : (await Json.ReadErrorAsync(response)).GetProperty("message").GetString(),
                Remaining: response.Headers.TryGetValues("x-ratelimit-remaining-requests", out var remaining) ? remaining.Single() : null);
        }));

        Assert.Equal(60, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        var refused = responses.Where(r => r.StatusCode != HttpStatusCode.OK).ToList();
        Assert.Equal(140, refused.Count);
        Assert.All(refused, r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.InRange(r.RetryAfter!.Value.TotalSeconds, 1, 60);
            Assert.Equal("Rate limit reached for key 'sixty': 60 requests per minute.", r.Message![..r.Message!.IndexOf(" Try", StringComparison.Ordinal)]);
            Assert.Equal("0", r.Remaining);
        });
        Assert.Contains(responses, r => r.Remaining == "0" && r.StatusCode == HttpStatusCode.OK); // the 60th
    }

    [Fact]
    public async Task The_tenants_limit_holds_over_all_its_keys_and_is_named_when_it_refuses()
    {
        var tenantId = await fixture.CreateTenantAsync(new { name = "Small team", rpm = 3 });
        var (_, one) = await fixture.CreateKeyAsync(tenantId, new { name = "one" });
        var (_, two) = await fixture.CreateKeyAsync(tenantId, new { name = "two" });
        using var oneClient = TenancyFixture.Client(fixture.First, one);
        using var twoClient = TenancyFixture.Client(fixture.Second, two);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await (i == 1 ? twoClient : oneClient).PostAsync("/v1/chat/completions", Json.Chat());
            statuses.Add(response.StatusCode);
        }
        using var refused = await twoClient.PostAsync("/v1/chat/completions", Json.Chat());

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.StartsWith("Rate limit reached for tenant 'Small team': 3 requests per minute.", (await Json.ReadErrorAsync(refused)).GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/embeddings")]
    [InlineData("/v1/messages")]
    [InlineData("/v1/responses")]
    public async Task Concurrent_requests_past_the_limit_are_refused_and_their_slots_come_back(string door)
    {
        var key = await CreateKeyAsync(tenant: new { name = "Parallel" }, key: new { name = "two at a time", maxConcurrent = 2 });
        using var client = TenancyFixture.Client(fixture.First, key);

        var slow = fixture.SlowSimulator.Services.GetRequiredService<SimulatorStats>();
        var before = slow.Requests;
        var running = Enumerable.Range(0, 2).Select(i => client.PostAsync(door, Json.AtDoor(door, "slow", extra: $",\"seed\":{i}"))).ToList();
        await Eventually.TrueAsync(() => slow.Requests >= before + 2, "both requests at the slow simulator, holding the key's two slots");
        using var third = await client.PostAsync(door, Json.AtDoor(door, "slow"));
        var finished = await Task.WhenAll(running);
        using var after = await client.PostAsync(door, Json.AtDoor(door, "slow"));

        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.StartsWith("Rate limit reached for key 'two at a time': 2 concurrent requests.", (await Json.ReadErrorAsync(third)).GetProperty("message").GetString());
        Assert.All(finished, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        foreach (var response in finished)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task A_throttled_keys_next_requests_are_refused_before_their_bodies_are_read()
    {
        var key = await CreateKeyAsync(tenant: new { name = "Hasty" }, key: new { name = "one a minute", rpm = 1 });
        using var client = TenancyFixture.Client(fixture.First, key);
        using var first = await client.PostAsync("/v1/chat/completions", Json.Chat());
        using var refused = await client.PostAsync("/v1/chat/completions", Json.Chat());

        // Not parsed, so not found wrong: the Api has not looked at it.
        using var unread = await client.PostAsync("/v1/chat/completions", Json.Body("{not json"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, unread.StatusCode);
        Assert.StartsWith("Rate limit reached for key 'one a minute': 1 requests per minute.", (await Json.ReadErrorAsync(unread)).GetProperty("message").GetString());
        Assert.InRange(unread.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
    }

    private async Task<string> CreateKeyAsync(object tenant, object key) =>
        (await fixture.CreateKeyAsync(await fixture.CreateTenantAsync(tenant), key)).Key;
}

public sealed class RateLimitTests(TenancyFixture fixture) : RateLimitSuite<TenancyFixture>(fixture);

public sealed class RateLimitOnClusterTests(ClusterTenancyFixture fixture) : RateLimitSuite<ClusterTenancyFixture>(fixture);
